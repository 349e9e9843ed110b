// Reads a JSON array of Mermaid diagram texts on stdin and prints a JSON array
// with, for each, null (it parses) or the parser's error message.
// mermaid.parse needs a DOM (DOMPurify), so jsdom provides one.
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const text of JSON.parse(input)) {
  try {
    const parsed = await mermaid.parse(text);
    results.push(parsed && parsed.diagramType === "flowchart-v2" ? null : `not a flowchart: ${JSON.stringify(parsed)}`);
  } catch (err) {
    results.push(String((err && err.message) || err));
  }
}
process.stdout.write(JSON.stringify(results));
