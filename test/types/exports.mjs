// Fails unless `Checks` in runner-compat.ts has exactly one entry per export of
// @grammyjs/runner. tsc alone sees only their value exports (`keyof typeof`);
// their interfaces can be listed only by asking the compiler for the module's
// exports, so a type they add later cannot go unchecked.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const here = dirname(fileURLToPath(import.meta.url));
const testFile = join(here, "runner-compat.ts");
// The root project: it resolves both packages without a build.
const config = ts.getParsedCommandLineOfConfigFile(
  join(here, "../../tsconfig.json"),
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) =>
      fail(ts.flattenDiagnosticMessageText(d.messageText, "\n")),
  },
);
const program = ts.createProgram([testFile], { ...config.options, noEmit: true });
const checker = program.getTypeChecker();
const source = program.getSourceFile(testFile);

const theirs = new Set(exportsOf(moduleImportedAs("@grammyjs/runner")));
const covered = new Set(keysOf("Checks"));
const missing = [...theirs].filter((name) => !covered.has(name));
const stale = [...covered].filter((name) => !theirs.has(name));
if (missing.length > 0) fail(`no check for their export(s): ${missing.join(", ")}`);
if (stale.length > 0) fail(`check(s) for no export of theirs: ${stale.join(", ")}`);
console.log(`runner-compat: all ${theirs.size} exports of @grammyjs/runner are checked`);

function moduleImportedAs(specifier) {
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement) && statement.moduleSpecifier.text === specifier) {
      const symbol = checker.getSymbolAtLocation(statement.moduleSpecifier);
      if (symbol) return symbol;
    }
  }
  return fail(`${testFile} does not import ${specifier}, or it does not resolve`);
}

function exportsOf(moduleSymbol) {
  return checker.getExportsOfModule(moduleSymbol).map((symbol) => symbol.name);
}

function keysOf(interfaceName) {
  const declaration = source.statements.find(
    (s) => ts.isInterfaceDeclaration(s) && s.name.text === interfaceName,
  );
  if (!declaration) return fail(`${testFile} has no interface ${interfaceName}`);
  return checker
    .getDeclaredTypeOfSymbol(checker.getSymbolAtLocation(declaration.name))
    .getProperties()
    .map((symbol) => symbol.name);
}

function fail(message) {
  console.error(`runner-compat: ${message}`);
  process.exit(1);
}
