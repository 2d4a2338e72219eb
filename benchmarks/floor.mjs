/**
 * The floor: the least any exactly-once runner can do. One connection; per unit, one
 * transaction that writes the unit's effect row and its ledger row. Usage:
 * `DATABASE_URL=... node floor.mjs UNITS` (units are named like the other tools' files).
 */
import postgres from 'postgres';

const units = Number(process.argv[2]);
const sql = postgres(process.env.DATABASE_URL, { max: 1, onnotice: () => {} });
try {
  await sql`create table if not exists floor_ledger (id text primary key, applied_at timestamptz not null default now())`;
  const applied = new Set((await sql`select id from floor_ledger`).map((row) => row.id));
  for (let number = 1; number <= units; number++) {
    const id = `${String(number).padStart(4, '0')}_record_unit`;
    if (applied.has(id)) continue;
    await sql.begin(async (tx) => {
      await tx`insert into effects (unit) values (${id})`;
      await tx`insert into floor_ledger (id) values (${id})`;
    });
  }
} finally {
  await sql.end();
}
