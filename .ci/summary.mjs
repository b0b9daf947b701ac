// Prints the one "N passed, N failed" line of .ci/run: the sum over vitest
// JSON reports (arguments before "--") and smoke logs (after it, each ending
// in "smoke: N passed, N failed"). A missing or unreadable file counts as one
// failure. Exits 1 if anything failed.
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
const split = args.indexOf("--");
const reports = split === -1 ? args : args.slice(0, split);
const smokes = split === -1 ? [] : args.slice(split + 1);
let passed = 0;
let failed = 0;
for (const file of reports) {
  try {
    const r = JSON.parse(readFileSync(file, "utf8"));
    passed += r.numPassedTests;
    failed += r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0);
  } catch {
    failed++;
  }
}
for (const file of smokes) {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {}
  const m = /smoke: (\d+) passed, (\d+) failed\s*$/.exec(text);
  if (m === null) failed++;
  else {
    passed += Number(m[1]);
    failed += Number(m[2]);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
