import { defineEnv, env } from '../platform/config.js';
import { DEFAULT_EARLY_CLOSES, DEFAULT_HOLIDAYS, SessionCalendar, parseClock, parseEarlyCloses } from './calendar.js';

/**
 * The exchange session calendar's env vars, declared once: the processors find patterns in these sessions, and
 * ingest's simulator and `tickflow start` trade in exactly the same ones. They keep their PROCESSOR_ names and
 * stage, since the processors are the stage whose output they shape.
 */
export const CALENDAR_ENV = {
  PROCESSOR_TIME_ZONE: env.string('Exchange time zone of the session calendar', 'America/New_York'),
  PROCESSOR_SESSION_OPEN: env.string('Regular session open, HH:MM local', '09:30'),
  PROCESSOR_SESSION_CLOSE: env.string('Regular session close, HH:MM local', '16:00'),
  PROCESSOR_HOLIDAYS: env.list('Exchange holidays, YYYY-MM-DD comma separated (default: NYSE 2025-2027)', DEFAULT_HOLIDAYS),
  PROCESSOR_EARLY_CLOSES: env.list('Early closes, YYYY-MM-DD@HH:MM comma separated (default: NYSE 2025-2027)', DEFAULT_EARLY_CLOSES),
};

export const loadCalendarConfig = defineEnv('processors', CALENDAR_ENV);

export type CalendarEnvConfig = ReturnType<typeof loadCalendarConfig>;

/** The session calendar the configuration describes. */
export function sessionCalendarFrom(config: CalendarEnvConfig): SessionCalendar {
  return new SessionCalendar({
    timeZone: config.PROCESSOR_TIME_ZONE,
    openMinute: parseClock(config.PROCESSOR_SESSION_OPEN),
    closeMinute: parseClock(config.PROCESSOR_SESSION_CLOSE),
    holidays: config.PROCESSOR_HOLIDAYS,
    earlyCloses: parseEarlyCloses(config.PROCESSOR_EARLY_CLOSES),
  });
}
