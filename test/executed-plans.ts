import type pg from 'pg';

/**
 * The plans PostgreSQL executed while `work` ran on `client`, nested ones included (the queries a PL/pgSQL function
 * runs, which EXPLAIN of the caller shows as one Function Scan), in the order they finished: auto_explain (contrib)
 * logs each one to the session, and its LOG messages reach the client as notices. LOAD needs a superuser (the test
 * clusters' postgres). Each entry is auto_explain's text: the query text, then the plan with actual row counts.
 */
export async function executedPlans<T>(client: pg.Client, work: () => Promise<T>): Promise<{ result: T; plans: string[] }> {
  const plans: string[] = [];
  const onNotice = (notice: { severity?: string; message?: string }) => {
    if (notice.severity === 'LOG' && notice.message?.includes('Query Text:')) plans.push(notice.message);
  };
  await client.query("LOAD 'auto_explain'");
  await client.query(
    'SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; SET auto_explain.log_analyze = on; ' +
      'SET auto_explain.log_timing = off; SET client_min_messages = log',
  );
  client.on('notice', onNotice);
  try {
    return { result: await work(), plans };
  } finally {
    client.off('notice', onNotice);
    await client.query('SET auto_explain.log_min_duration = -1; RESET client_min_messages');
  }
}
