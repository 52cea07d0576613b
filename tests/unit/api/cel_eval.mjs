// Evaluates the CEL rules (x-kubernetes-validations) of CRD schemas against objects,
// the way the API server does: defaults first, then every rule at the node that
// declares it; transition rules (oldSelf) only on updates where the old value exists.
// Used by cel_test.cc to check that controller/api mirrors each rule.
//
// Each failing rule is one error, at the field path of the schema node that holds
// the rule (array items as [i], map values as [key]) plus the rule's fieldPath when
// it has one, as apiextensions-apiserver reports it (schema/cel/validation.go:
// fldPath, then .Child(NormalizedRuleFieldPath)). A rule under `items` runs once
// per item, so it fails once per bad item; a rule on an object that loops over a
// list (self.checks.all(...)) fails once, however many items break it.
//
// stdin:  {"celJs": "<path of @marcbachmann/cel-js/lib/index.js>",
//          "schemas": {"<Kind>": <openAPIV3Schema>},
//          "cases": [{"name": "...", "docs": [<object>] | [<old>, <new>]}]}
// stdout: {"<name>": [{"path": "spec.build", "reason": "FieldValueInvalid",
//                      "message": "...", "error": "<if it threw>"}]}
import fs from 'node:fs'
import {pathToFileURL} from 'node:url'

const input = JSON.parse(fs.readFileSync(0, 'utf8'))
const {evaluate} = await import(pathToFileURL(input.celJs).href)

function applyDefaults(schema, value) {
  if (value && typeof value === 'object' && !Array.isArray(value) && schema.properties) {
    for (const [key, child] of Object.entries(schema.properties)) {
      if (value[key] === undefined && child.default !== undefined) {
        value[key] = structuredClone(child.default)
      }
      if (value[key] !== undefined) applyDefaults(child, value[key])
    }
  } else if (Array.isArray(value) && schema.items) {
    value.forEach((item) => applyDefaults(schema.items, item))
  }
}

// JSON integers are CEL ints.
function toCel(value) {
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value)
  if (Array.isArray(value)) return value.map(toCel)
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toCel(v)]))
  }
  return value
}

// The path an error of `rule` declared at `path` is reported at. fieldPath is a
// relative JSONPath such as ".spec.foo" or ".map['a.b']"; the server normalises it
// to "spec.foo" / "map[a.b]" and appends it as one child.
function errorPath(path, rule) {
  if (!rule.fieldPath) return path
  const child = rule.fieldPath.replace(/^\./, '').replace(/\['([^']*)'\]/g, '[$1]')
  return path ? `${path}.${child}` : child
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function run(schema, value, old, path, out) {
  for (const rule of schema['x-kubernetes-validations'] || []) {
    const transition = /\boldSelf\b/.test(rule.rule)
    if (transition && old === undefined) continue
    const failure = {
      path: errorPath(path, rule),
      reason: rule.reason || 'FieldValueInvalid',
      message: rule.message,
    }
    try {
      const ok = evaluate(rule.rule, {self: toCel(value), oldSelf: toCel(old)})
      if (ok !== true) out.push(failure)
    } catch (e) {
      out.push({...failure, error: String(e.message || e)})
    }
  }
  if (value && typeof value === 'object' && !Array.isArray(value) && schema.properties) {
    for (const [key, child] of Object.entries(schema.properties)) {
      if (value[key] === undefined) continue
      const oldChild = old && typeof old === 'object' ? old[key] : undefined
      run(child, value[key], oldChild, path ? `${path}.${key}` : key, out)
    }
  } else if (isObject(value) && isObject(schema.additionalProperties)) {
    for (const [key, child] of Object.entries(value)) {
      const oldChild = isObject(old) ? old[key] : undefined
      run(schema.additionalProperties, child, oldChild, `${path}[${key}]`, out)
    }
  } else if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => run(schema.items, item, undefined, `${path}[${i}]`, out))
  }
}

const results = {}
for (const c of input.cases) {
  const schema = input.schemas[c.docs[0].kind]
  const docs = c.docs.map((d) => {
    const copy = structuredClone(d)
    applyDefaults(schema, copy)
    return copy
  })
  const out = []
  if (docs.length === 1) run(schema, docs[0], undefined, '', out)
  else run(schema, docs[1], docs[0], '', out)
  results[c.name] = out
}
process.stdout.write(JSON.stringify(results))
