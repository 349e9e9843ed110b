// The reference controller's own functions as a test oracle.
//
// Reads JSON on stdin: {controller, primitives, cases}: the text of the reference's
// services/agents/src/server/orchestration-controller.ts and primitives.ts (read
// from the proompteng/lab mirror by tests/support/reference.py, never copied into
// this repository) and the cases to run. Cuts the named top-level functions out of
// the reference's source, strips their types with TypeScript, stubs what they call
// beyond the object they build (the Kubernetes client, audit events), and prints
// one JSON result per case: what the reference builds from the same step.
import ts from 'typescript'

const FUNCTIONS = [
  'normalizeStringMap', 'mergeParameters', 'makeName', 'renderTemplate', 'parseJsonRecord',
  'parseStringArray', 'parseOptionalStepNumber', 'readStepRecord', 'buildResourceRef',
  'createRunSpecConfigMap', 'submitToolRunJob', 'submitAgentRunStep', 'submitToolRunStep',
  'submitSubOrchestrationStep',
]
const PRIMITIVES = ['asString', 'asRecord', 'readNested']
// Expressions inside reconcileOrchestrationRun that read the waits' fields.
const EXPRESSIONS = { policyName: 'ApprovalGate', signalRef: 'SignalWait', deliveryId: 'SignalWait' }

const TOP = /^(?:export )?(?:const|let|type|interface|function|async function|class) /m

function topLevel (source, name) {
  const start = source.search(new RegExp(`^(?:export )?const ${name} = `, 'm'))
  if (start < 0) throw new Error(`${name} is not a top-level const of the reference source`)
  const next = source.slice(start + 1).search(TOP)
  const text = next < 0 ? source.slice(start) : source.slice(start, start + 1 + next)
  return text.replace(/^export /, '')
}

// The expression assigned to `name` in the branch for `kind` steps.
function expression (source, name, kind) {
  const branch = source.indexOf(`if (stepKind === '${kind}')`)
  if (branch < 0) throw new Error(`no branch for ${kind} in the reference source`)
  const match = source.slice(branch).match(new RegExp(`const ${name} =([\\s\\S]*?)\\n\\s*(?:const|if) `))
  if (!match) throw new Error(`no expression ${name} in the ${kind} branch`)
  return `const read_${name} = (step) => (${match[1].trim()})\n`
}

const STUBS = `
const emitAuditEventBestEffort = () => undefined
const randomUUID = () => '00000000-0000-0000-0000-000000000000'
const resolveRepositoryFromParameters = () => null
const readDeliveryIdLabel = () => null
const buildOrchestrationChildLabels = () => ({})
const buildToolRunJobLabels = () => ({})
`

async function load (controller, primitives) {
  const parts = [STUBS]
  for (const name of PRIMITIVES) parts.push(topLevel(primitives, name))
  for (const name of FUNCTIONS) parts.push(topLevel(controller, name))
  for (const [name, kind] of Object.entries(EXPRESSIONS)) parts.push(expression(controller, name, kind))
  const names = [...PRIMITIVES, ...FUNCTIONS, ...Object.keys(EXPRESSIONS).map((n) => `read_${n}`)]
  parts.push(`export { ${names.join(', ')} }\n`)
  const js = ts.transpileModule(parts.join('\n'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText
  return import('data:text/javascript;base64,' + Buffer.from(js).toString('base64'))
}

function recorder () {
  const applied = []
  return { applied, kube: { apply: async (resource) => { applied.push(resource); return resource } } }
}

const RUN = { metadata: { name: 'run', uid: 'uid-1' } }

async function one (ref, c) {
  const merged = () => ref.mergeParameters(
    ref.normalizeStringMap(ref.asRecord(c.runParameters)),
    ref.normalizeStringMap(ref.asRecord(c.step?.with)))
  try {
    switch (c.op) {
      case 'parameters':
        return { value: merged() }
      case 'AgentRun': case 'ToolRun': case 'SubOrchestration': {
        const { applied, kube } = recorder()
        const submit = { AgentRun: ref.submitAgentRunStep, ToolRun: ref.submitToolRunStep,
          SubOrchestration: ref.submitSubOrchestrationStep }[c.op]
        await submit(kube, c.step, RUN, 'ns', merged())
        return { value: applied[0].spec }
      }
      case 'ToolRunJob': {
        const { applied, kube } = recorder()
        const toolRun = { metadata: { name: c.runName, uid: 'uid-2' },
          spec: { toolRef: { name: c.tool.metadata.name }, parameters: c.parameters } }
        await ref.submitToolRunJob(kube, toolRun, c.tool, 'ns')
        return { value: applied.find((r) => r.kind === 'Job').spec.template.spec }
      }
      case 'ApprovalGate':
        return { value: { policyRef: ref.read_policyName(c.step) } }
      case 'SignalWait':
        return { value: { signalRef: ref.read_signalRef(c.step), deliveryId: ref.read_deliveryId(c.step) } }
      default:
        throw new Error(`unknown op ${c.op}`)
    }
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) }
  }
}

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const ref = await load(input.controller, input.primitives)
const results = []
for (const c of input.cases) results.push(await one(ref, c))
// undefined (an absent key) is dropped by JSON.stringify, as it is from the object Kubernetes stores.
process.stdout.write(JSON.stringify(results))
