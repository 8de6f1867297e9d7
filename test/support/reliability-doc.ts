// Reads the counts RELIABILITY.md states (its "| <what> | <n> |" table rows), so each test that
// produces a count can check the document says the true number.
import { readFileSync } from 'node:fs';

export function documentedCount(label: string): number | undefined {
  const text = readFileSync('RELIABILITY.md', 'utf8');
  const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`^\\|\\s*${escaped}\\s*\\|\\s*\\**(\\d[\\d,]*)\\**\\s*\\|`, 'm').exec(text);
  return m ? Number(m[1].replace(/,/g, '')) : undefined;
}
