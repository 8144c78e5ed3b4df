/**
 * The frames of gateway/asyncapi.yaml as JSON Schema validators: the integration tests check every frame the
 * server sends with them (gateway/testing.ts), so the document and the server cannot drift apart.
 */
import { readFileSync } from 'node:fs';
import AjvModule from 'ajv';
import { parse as parseYaml } from 'yaml';

// ajv is CommonJS: its class is the default export's `default` under Node's ESM interop.
const Ajv = AjvModule.default;

interface AsyncApiDocument {
  readonly operations: Record<string, { readonly action: 'send' | 'receive'; readonly messages: readonly { readonly $ref: string }[] }>;
  readonly components: { readonly messages: Record<string, { readonly payload: object }>; readonly schemas: Record<string, object> };
}

/** Checks one frame; `undefined` when it conforms, else what is wrong. */
export type FrameCheck = (frame: unknown) => string | undefined;

export const ASYNCAPI_PATH = new URL('./asyncapi.yaml', import.meta.url);

/** Validators of the frames one side sends (`send`: the server's, `receive`: the client's), chosen by `type`. */
export function frameValidator(side: 'send' | 'receive', documentText = readFileSync(ASYNCAPI_PATH, 'utf8')): FrameCheck {
  const document = parseYaml(documentText) as AsyncApiDocument;
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addSchema({ $id: 'asyncapi', components: document.components });
  const byType = new Map<string, ReturnType<typeof ajv.compile>>();
  for (const operation of Object.values(document.operations)) {
    if (operation.action !== side) continue;
    for (const { $ref } of operation.messages) {
      const name = $ref.split('/').at(-1)!;
      byType.set(name, ajv.compile({ $ref: `asyncapi#/components/messages/${name}/payload` }));
    }
  }
  return (frame) => {
    const type = typeof frame === 'object' && frame !== null ? (frame as { type?: unknown }).type : undefined;
    const validate = typeof type === 'string' ? byType.get(type) : undefined;
    if (!validate) return `no ${side === 'send' ? 'server' : 'client'} frame of type ${JSON.stringify(type)} in the document`;
    if (validate(frame)) return undefined;
    return (validate.errors ?? [])
      .map(
        (error) => `${error.instancePath || '/'} ${error.message ?? 'is invalid'}${error.params ? ` ${JSON.stringify(error.params)}` : ''}`,
      )
      .join('; ');
  };
}

/** Collects the frames that do not conform, each with what is wrong (cut to a readable length). */
export class FrameRecorder {
  readonly violations: string[] = [];
  frames = 0;

  constructor(private readonly check: FrameCheck = frameValidator('send')) {}

  /** Records one frame as sent: JSON text, or its UTF-8 bytes (copied from at once: they may be a reused buffer). */
  record(frame: string | Buffer): void {
    this.frames += 1;
    const text = typeof frame === 'string' ? frame : frame.toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.violations.push(`not JSON: ${text.slice(0, 200)}`);
      return;
    }
    const problem = this.check(value);
    if (problem !== undefined) this.violations.push(`${problem} in ${text.slice(0, 500)}`);
  }

  /** Throws with every violation recorded since the last call, if any. */
  assertConforming(): void {
    const found = this.violations.splice(0);
    if (found.length > 0)
      throw new Error(`${found.length} server frame(s) do not conform to gateway/asyncapi.yaml:\n${found.slice(0, 10).join('\n')}`);
  }
}
