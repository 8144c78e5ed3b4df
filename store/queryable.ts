/** The minimal reader/writer the store's functions need: a pg Pool, PoolClient or Client satisfies it. */
export interface Queryable {
  query<Row extends object>(text: string, values?: unknown[]): Promise<{ rows: Row[]; rowCount: number | null }>;
}
