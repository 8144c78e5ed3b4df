import { tzOffset } from '@date-fns/tz';

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

/** NYSE full-day holidays 2025–2027 (the default of PROCESSOR_HOLIDAYS). */
export const DEFAULT_HOLIDAYS = [
  '2025-01-01',
  '2025-01-09',
  '2025-01-20',
  '2025-02-17',
  '2025-04-18',
  '2025-05-26',
  '2025-06-19',
  '2025-07-04',
  '2025-09-01',
  '2025-11-27',
  '2025-12-25',
  '2026-01-01',
  '2026-01-19',
  '2026-02-16',
  '2026-04-03',
  '2026-05-25',
  '2026-06-19',
  '2026-07-03',
  '2026-09-07',
  '2026-11-26',
  '2026-12-25',
  '2027-01-01',
  '2027-01-18',
  '2027-02-15',
  '2027-03-26',
  '2027-05-31',
  '2027-06-18',
  '2027-07-05',
  '2027-09-06',
  '2027-11-25',
  '2027-12-24',
].join(',');

/** NYSE early closes (13:00 ET) 2025–2027 (the default of PROCESSOR_EARLY_CLOSES). */
export const DEFAULT_EARLY_CLOSES = ['2025-07-03', '2025-11-28', '2025-12-24', '2026-11-27', '2026-12-24', '2027-11-26']
  .map((day) => `${day}@13:00`)
  .join(',');

export interface CalendarConfig {
  readonly timeZone: string;
  /** Regular open and close, minutes after local midnight. */
  readonly openMinute: number;
  readonly closeMinute: number;
  /** YYYY-MM-DD dates with no session. */
  readonly holidays: readonly string[];
  /** YYYY-MM-DD -> close minute after local midnight. */
  readonly earlyCloses: Readonly<Record<string, number>>;
}

/** One local calendar day of the exchange. */
export interface SessionDay {
  /** Days since 1970-01-01 in exchange-local time. */
  readonly dayNumber: number;
  /** YYYY-MM-DD, exchange-local. */
  readonly date: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly isTradingDay: boolean;
  /** Regular session bounds (equal to startMs when not a trading day). */
  readonly openMs: number;
  readonly closeMs: number;
}

/** Parses `HH:MM` into minutes after midnight. */
export function parseClock(text: string): number {
  const match = /^(\d{1,2}):(\d{2})$/.exec(text.trim());
  if (!match) throw new Error(`not a clock time (HH:MM): ${text}`);
  const minutes = Number(match[1]) * 60 + Number(match[2]);
  if (minutes >= 24 * 60) throw new Error(`clock time out of range: ${text}`);
  return minutes;
}

/** Parses `YYYY-MM-DD@HH:MM,...` (early closes) into a record. */
export function parseEarlyCloses(items: readonly string[]): Record<string, number> {
  const closes: Record<string, number> = {};
  for (const item of items) {
    const [day, clock] = item.split('@');
    if (!day || !clock || !/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new Error(`not an early close (YYYY-MM-DD@HH:MM): ${item}`);
    closes[day] = parseClock(clock);
  }
  return closes;
}

export function defaultCalendarConfig(): CalendarConfig {
  return {
    timeZone: 'America/New_York',
    openMinute: 9 * 60 + 30,
    closeMinute: 16 * 60,
    holidays: DEFAULT_HOLIDAYS.split(','),
    earlyCloses: parseEarlyCloses(DEFAULT_EARLY_CLOSES.split(',')),
  };
}

function isoDate(dayNumber: number): string {
  return new Date(dayNumber * DAY_MS).toISOString().slice(0, 10);
}

/**
 * The US equity session calendar. Time-zone offsets are computed once per local day and cached, so
 * the per-bar path is a range check against the last day looked up.
 */
export class SessionCalendar {
  private readonly holidays: ReadonlySet<string>;
  private readonly days = new Map<number, SessionDay>();
  private last: SessionDay | undefined;

  constructor(readonly config: CalendarConfig = defaultCalendarConfig()) {
    this.holidays = new Set(config.holidays);
  }

  private offsetMs(utcMs: number): number {
    return tzOffset(this.config.timeZone, new Date(utcMs)) * MINUTE_MS;
  }

  /** The local day holding the instant `utcMs`. */
  dayOf(utcMs: number): SessionDay {
    const last = this.last;
    if (last !== undefined && utcMs >= last.startMs && utcMs < last.endMs) return last;
    const dayNumber = Math.floor((utcMs + this.offsetMs(utcMs)) / DAY_MS);
    const day = this.day(dayNumber);
    this.last = day;
    return day;
  }

  /** The local day with the given day number (days since the epoch, local). */
  day(dayNumber: number): SessionDay {
    const cached = this.days.get(dayNumber);
    if (cached) return cached;
    const localMidnight = dayNumber * DAY_MS;
    // Offsets are taken at each instant of interest, so DST switch days (at 02:00) come out right.
    const toUtc = (localMs: number) => localMs - this.offsetMs(localMs - this.offsetMs(localMs));
    const startMs = toUtc(localMidnight);
    const endMs = toUtc(localMidnight + DAY_MS);
    const date = isoDate(dayNumber);
    const weekday = new Date(localMidnight).getUTCDay();
    const isTradingDay = weekday !== 0 && weekday !== 6 && !this.holidays.has(date);
    const closeMinute = this.config.earlyCloses[date] ?? this.config.closeMinute;
    const day: SessionDay = {
      dayNumber,
      date,
      startMs,
      endMs,
      isTradingDay,
      openMs: isTradingDay ? toUtc(localMidnight + this.config.openMinute * MINUTE_MS) : startMs,
      closeMs: isTradingDay ? toUtc(localMidnight + closeMinute * MINUTE_MS) : startMs,
    };
    if (this.days.size > 4096) this.days.clear();
    this.days.set(dayNumber, day);
    return day;
  }

  /** True when `utcMs` lies in a regular session. */
  inSession(utcMs: number): boolean {
    const day = this.dayOf(utcMs);
    return day.isTradingDay && utcMs >= day.openMs && utcMs < day.closeMs;
  }

  /** The next trading day strictly after the given day. */
  nextTradingDay(dayNumber: number): SessionDay {
    for (let next = dayNumber + 1; ; next += 1) {
      const day = this.day(next);
      if (day.isTradingDay) return day;
    }
  }
}
