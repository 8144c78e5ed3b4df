import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Type, types as avroTypes } from 'avsc';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// platform/records.ts mirrors schemas/*.avsc by hand; this test ties them together: every field of each schema must be
// in its interface with the matching TypeScript type, and the interface must have no other field.

const schemasDir = fileURLToPath(new URL('../schemas/', import.meta.url));
const recordsFile = fileURLToPath(new URL('./records.ts', import.meta.url));

/** Schema file -> the interface of platform/records.ts that mirrors it. */
const MIRRORS: Readonly<Record<string, string>> = {
  'trade.avsc': 'TradeRecord',
  'quote.avsc': 'QuoteRecord',
  'aggregate.avsc': 'AggregateRecord',
  'luld.avsc': 'LuldRecord',
  'fmv.avsc': 'FmvRecord',
  'symbol.avsc': 'SymbolRecord',
  'fundamentals.avsc': 'FundamentalsRecord',
  'dead-letter.avsc': 'DeadLetterRecord',
  'pattern-event.avsc': 'PatternEventRecord',
  'ingest-checkpoint.avsc': 'IngestCheckpointRecord',
};
/** Schemas with no mirror here, and why. */
const NOT_MIRRORED: Readonly<Record<string, string>> = {
  'processor-snapshot.avsc': "the processors' private state (opaque bytes), read and written only by processors/processor.ts",
};

/** The TypeScript type a decoded Avro value has, canonical: union members sorted, literals single-quoted. */
function tsOfAvro(type: Type): string[] {
  if (type instanceof avroTypes.UnwrappedUnionType || type instanceof avroTypes.WrappedUnionType) return type.types.flatMap(tsOfAvro);
  if (type instanceof avroTypes.EnumType) return type.symbols.map((symbol) => `'${symbol}'`);
  if (type instanceof avroTypes.ArrayType) return [`${joined(tsOfAvro(type.itemsType), true)}[]`];
  if (type instanceof avroTypes.MapType) return [`Record<string, ${joined(tsOfAvro(type.valuesType))}>`];
  const name = type.typeName;
  if (name === 'string') return ['string'];
  if (name === 'int' || name === 'long' || name === 'float' || name === 'double') return ['number'];
  if (name === 'boolean') return ['boolean'];
  if (name === 'bytes') return ['Buffer'];
  if (name === 'null') return ['null'];
  throw new Error(`no TypeScript mapping for Avro type ${name}`);
}

function joined(members: readonly string[], parenthesise = false): string {
  const text = [...new Set(members)].sort().join(' | ');
  return parenthesise && members.length > 1 ? `(${text})` : text;
}

/** The interfaces of records.ts: name -> field -> canonical type (aliases of the file expanded). */
function recordInterfaces(): Map<string, Record<string, string>> {
  const source = ts.createSourceFile(recordsFile, readFileSync(recordsFile, 'utf8'), ts.ScriptTarget.ES2022, true);
  const aliases = new Map<string, ts.TypeNode>();
  for (const statement of source.statements) if (ts.isTypeAliasDeclaration(statement)) aliases.set(statement.name.text, statement.type);
  const canonical = (node: ts.TypeNode): string[] => {
    if (ts.isUnionTypeNode(node)) return node.types.flatMap(canonical);
    if (ts.isParenthesizedTypeNode(node)) return canonical(node.type);
    if (ts.isLiteralTypeNode(node)) {
      if (node.literal.kind === ts.SyntaxKind.NullKeyword) return ['null'];
      if (ts.isStringLiteral(node.literal)) return [`'${node.literal.text}'`];
    }
    if (ts.isArrayTypeNode(node)) return [`${joined(canonical(node.elementType), true)}[]`];
    if (node.kind === ts.SyntaxKind.StringKeyword) return ['string'];
    if (node.kind === ts.SyntaxKind.NumberKeyword) return ['number'];
    if (node.kind === ts.SyntaxKind.BooleanKeyword) return ['boolean'];
    if (ts.isTypeReferenceNode(node)) {
      const name = node.typeName.getText(source);
      const alias = aliases.get(name);
      if (alias) return canonical(alias);
      if (name === 'Record' && node.typeArguments?.length === 2)
        return [`Record<${joined(canonical(node.typeArguments[0]!))}, ${joined(canonical(node.typeArguments[1]!))}>`];
      if (name === 'Buffer') return ['Buffer'];
    }
    throw new Error(`records.ts: no canonical form for ${node.getText(source)}`);
  };
  const interfaces = new Map<string, Record<string, string>>();
  for (const statement of source.statements) {
    if (!ts.isInterfaceDeclaration(statement)) continue;
    const fields: Record<string, string> = {};
    for (const member of statement.members) {
      if (!ts.isPropertySignature(member) || !member.type) throw new Error(`${statement.name.text}: only plain fields are expected`);
      fields[member.name.getText(source)] = joined([...canonical(member.type), ...(member.questionToken ? ['undefined'] : [])]);
    }
    interfaces.set(statement.name.text, fields);
  }
  return interfaces;
}

function avroFields(file: string): Record<string, string> {
  const type = Type.forSchema(JSON.parse(readFileSync(`${schemasDir}${file}`, 'utf8')), { wrapUnions: false });
  if (!(type instanceof avroTypes.RecordType)) throw new Error(`${file} is not a record`);
  return Object.fromEntries(type.fields.map((field) => [field.name, joined(tsOfAvro(field.type))]));
}

describe('platform/records.ts against schemas/*.avsc', () => {
  const interfaces = recordInterfaces();
  const schemaFiles = readdirSync(schemasDir)
    .filter((file) => file.endsWith('.avsc'))
    .sort();

  it('has a decision for every schema, and a schema for every interface', () => {
    expect(schemaFiles.filter((file) => !(file in MIRRORS) && !(file in NOT_MIRRORED))).toEqual([]);
    expect([...interfaces.keys()].sort()).toEqual(Object.values(MIRRORS).sort());
  });

  it.each(Object.entries(MIRRORS))('%s: the fields and types of %s', (file, name) => {
    expect(interfaces.get(name)).toEqual(avroFields(file));
  });

  it('would notice a field added to a schema but not to its interface', () => {
    const schema = JSON.parse(readFileSync(`${schemasDir}fmv.avsc`, 'utf8')) as { fields: unknown[] };
    schema.fields.push({ name: 'venue', type: ['null', 'string'], default: null });
    const type = Type.forSchema(schema as never, { wrapUnions: false }) as InstanceType<typeof avroTypes.RecordType>;
    const fields = Object.fromEntries(type.fields.map((field) => [field.name, joined(tsOfAvro(field.type))]));
    expect(fields).toMatchObject({ venue: 'null | string' });
    expect(interfaces.get('FmvRecord')).not.toEqual(fields);
  });
});
