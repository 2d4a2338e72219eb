/**
 * umzug as its users run it: a migrator script calling runAsCLI (`node umzug-migrate.mjs up`
 * in a directory holding migrations/*.mjs). Exactly once needs the ledger row in the
 * migration's transaction, so the storage commits the transaction the `migrating` event
 * began; umzug runs migrations one after another on the one connection.
 */
import postgres from 'postgres';
import { Umzug } from 'umzug';

// One connection: postgres.js allows a hand-written BEGIN/COMMIT only then.
const sql = postgres(process.env.DATABASE_URL, { max: 1, onnotice: () => {} });

/** An UmzugStorage whose ledger row commits with the migration's own work. */
const storage = {
  async executed() {
    await sql`create table if not exists umzug_ledger (name text primary key, applied_at timestamptz not null default now())`;
    return (await sql`select name from umzug_ledger order by name`).map((row) => row.name);
  },
  async logMigration({ name }) {
    await sql`insert into umzug_ledger (name) values (${name})`;
    await sql`commit`;
  },
  async unlogMigration({ name }) {
    await sql`delete from umzug_ledger where name = ${name}`;
  },
};

const umzug = new Umzug({
  migrations: { glob: ['migrations/*.mjs', { cwd: process.cwd() }] },
  context: { sql },
  storage,
  logger: console,
});
umzug.on('migrating', async () => {
  await sql`begin`;
});

try {
  await umzug.runAsCLI();
} finally {
  // A failed migration's transaction is still open: ending the connection rolls it back.
  await sql.end();
}
