/** Projections: migrations, the PostgreSQL COPY projector and the Redis read model. */
export { migrate, MIGRATIONS_DIR, type MigrateOptions, type TimescaleMode } from './migrate.js';
export * from './redis-keys.js';
