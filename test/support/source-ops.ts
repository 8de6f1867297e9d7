// Reads the action's source with the TypeScript parser to find every AWS operation it can send:
// each `api.call('service:Action', …)` name, each `new XxxCommand(…)` from an @aws-sdk client
// (mapped to its IAM action), and each `.send(…)`, with where it sits. From top-level functions
// and what they reference it also works out which operations each mode can reach. Used by the IAM
// policy test and the dry-run test; nothing here runs the source.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** The IAM service prefix of each SDK client package the source imports. */
export const SERVICE_OF_PACKAGE: Record<string, string> = {
  '@aws-sdk/client-auto-scaling': 'autoscaling',
  '@aws-sdk/client-cloudwatch': 'cloudwatch',
  '@aws-sdk/client-ec2': 'ec2',
  '@aws-sdk/client-s3': 's3',
  '@aws-sdk/client-sns': 'sns',
  '@aws-sdk/client-sqs': 'sqs',
  '@aws-sdk/client-ssm': 'ssm',
  '@aws-sdk/client-sts': 'sts',
};

/** API operations whose IAM action has another name (AWS's Service Authorization Reference). */
const IAM_NAME_EXCEPTIONS: Record<string, string> = {
  's3:HeadObject': 's3:GetObject',
  's3:GetBucketNotificationConfiguration': 's3:GetBucketNotification',
  's3:PutBucketNotificationConfiguration': 's3:PutBucketNotification',
  's3:ListObjectsV2': 's3:ListBucket',
  's3:HeadBucket': 's3:ListBucket',
};

/** The IAM action for `new <commandName>()` from `pkg`, e.g. HeadObjectCommand → s3:GetObject. */
export function iamActionOf(pkg: string, commandName: string): string {
  const service = SERVICE_OF_PACKAGE[pkg];
  if (!service) throw new Error(`no IAM service known for package ${pkg}`);
  const op = `${service}:${commandName.replace(/Command$/, '')}`;
  return IAM_NAME_EXCEPTIONS[op] ?? op;
}

/** Verbs that remove, stop or wipe something: none may be sent, none may be granted. */
export const DESTRUCTIVE =
  /^(Delete|Purge|Terminate|Deregister|Remove|Detach|Disassociate|Disable|Revoke|Release|Stop|Reboot|Reset|Abort)/;

export interface SendSite {
  file: string;
  line: number;
  /** the api.call name wrapping this send, if any */
  wrappedBy?: string;
  /** the IAM action of the command sent, if it is `new XxxCommand` from an SDK client */
  command?: string;
}

export interface FileScan {
  file: string;
  /** api.call names in source order */
  apiOps: string[];
  /** `new XxxCommand` of SDK clients, as IAM actions, in source order */
  commandOps: string[];
  sends: SendSite[];
}

interface Decl {
  file: string;
  name: string;
  node: ts.Node;
}

interface ParsedFile {
  file: string;
  source: ts.SourceFile;
  /** local name → [resolved file, imported name] for relative imports */
  imports: Map<string, [string, string]>;
  /** local name → SDK package for @aws-sdk imports */
  sdkImports: Map<string, string>;
  decls: Map<string, Decl>;
}

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listTs(full));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out.sort();
}

function parse(file: string): ParsedFile {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const imports = new Map<string, [string, string]>();
  const sdkImports = new Map<string, string>();
  const decls = new Map<string, Decl>();
  for (const st of source.statements) {
    if (ts.isImportDeclaration(st) && ts.isStringLiteral(st.moduleSpecifier)) {
      const from = st.moduleSpecifier.text;
      const named = st.importClause?.namedBindings;
      if (!named || !ts.isNamedImports(named)) continue;
      for (const el of named.elements) {
        const local = el.name.text;
        const imported = (el.propertyName ?? el.name).text;
        if (from.startsWith('@aws-sdk/')) sdkImports.set(local, from);
        else if (from.startsWith('.')) {
          imports.set(local, [resolve(dirname(file), from.replace(/\.js$/, '.ts')), imported]);
        }
      }
    } else if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st)) && st.name) {
      decls.set(st.name.text, { file, name: st.name.text, node: st });
    } else if (ts.isVariableStatement(st)) {
      for (const d of st.declarationList.declarations) {
        if (ts.isIdentifier(d.name)) decls.set(d.name.text, { file, name: d.name.text, node: d });
      }
    }
  }
  return { file, source, imports, sdkImports, decls };
}

function isApiCall(node: ts.Node): node is ts.CallExpression {
  return (
    ts.isCallExpression(node) &&
    ts.isPropertyAccessExpression(node.expression) &&
    node.expression.name.text === 'call' &&
    node.arguments.length >= 2 &&
    ts.isStringLiteral(node.arguments[0]) &&
    /^[a-z0-9-]+:[A-Za-z0-9]+$/.test(node.arguments[0].text)
  );
}

function sdkCommandOf(p: ParsedFile, node: ts.Node): string | undefined {
  if (!ts.isNewExpression(node) || !ts.isIdentifier(node.expression)) return undefined;
  const name = node.expression.text;
  const pkg = p.sdkImports.get(name);
  return pkg && name.endsWith('Command') ? iamActionOf(pkg, name) : undefined;
}

export class SourceOps {
  private readonly files = new Map<string, ParsedFile>();
  readonly root: string;

  constructor(root = 'src') {
    this.root = resolve(root);
    for (const f of listTs(this.root)) this.files.set(f, parse(f));
  }

  private rel(file: string): string {
    return relative(process.cwd(), file);
  }

  /** Per file: api.call names, SDK commands and `.send(` sites, in source order. */
  scan(): FileScan[] {
    const out: FileScan[] = [];
    for (const p of this.files.values()) {
      const scan: FileScan = { file: this.rel(p.file), apiOps: [], commandOps: [], sends: [] };
      const visit = (node: ts.Node, wrappedBy?: string) => {
        let inner = wrappedBy;
        if (isApiCall(node)) {
          inner = (node.arguments[0] as ts.StringLiteral).text;
          scan.apiOps.push(inner);
        }
        const cmd = sdkCommandOf(p, node);
        if (cmd) scan.commandOps.push(cmd);
        if (
          ts.isCallExpression(node) &&
          ts.isPropertyAccessExpression(node.expression) &&
          node.expression.name.text === 'send'
        ) {
          const arg = node.arguments[0];
          scan.sends.push({
            file: scan.file,
            line: p.source.getLineAndCharacterOfPosition(node.getStart()).line + 1,
            wrappedBy,
            command: arg ? sdkCommandOf(p, arg) : undefined,
          });
        }
        ts.forEachChild(node, (c) => visit(c, inner));
      };
      visit(p.source);
      out.push(scan);
    }
    return out;
  }

  /** Every AWS operation named anywhere in the source. */
  allOps(): Set<string> {
    const ops = new Set<string>();
    for (const s of this.scan()) for (const op of [...s.apiOps, ...s.commandOps]) ops.add(op);
    return ops;
  }

  /** The declaration a name means in a file: its own top-level one, or the one it imports. */
  private resolveName(p: ParsedFile, name: string): Decl | undefined {
    const own = p.decls.get(name);
    if (own) return own;
    const imp = p.imports.get(name);
    if (!imp) return undefined;
    const target = this.files.get(imp[0]);
    return target ? this.resolveName(target, imp[1]) : undefined;
  }

  /**
   * The AWS operations a top-level function can reach: its own api.call names and those of every
   * top-level declaration it names, followed through imports. Over-approximates (a branch never
   * taken still counts), which is the safe side for "what must the policy grant".
   */
  reachableOps(file: string, name: string): Set<string> {
    const start = this.files.get(resolve(file));
    const first = start && this.resolveName(start, name);
    if (!first) throw new Error(`${name} is not declared in ${file}`);
    const ops = new Set<string>();
    const seen = new Set<string>();
    const queue: Decl[] = [first];
    while (queue.length > 0) {
      const d = queue.pop() as Decl;
      const key = `${d.file}#${d.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const p = this.files.get(d.file) as ParsedFile;
      const visit = (node: ts.Node) => {
        if (isApiCall(node)) ops.add((node.arguments[0] as ts.StringLiteral).text);
        if (ts.isIdentifier(node) && node.text !== d.name) {
          const next = this.resolveName(p, node.text);
          if (next) queue.push(next);
        }
        ts.forEachChild(node, visit);
      };
      visit(d.node);
    }
    return ops;
  }
}
