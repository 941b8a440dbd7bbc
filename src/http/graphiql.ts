/**
 * GraphiQL page. The machines are offline, so nothing may load from a CDN. Until the bundled GraphiQL assets are
 * wired, this page offers a minimal local query console with the example query prefilled.
 */
import { EXAMPLE_QUERY, EXAMPLE_VARIABLES } from '../graphql/example-query';

export function graphiqlPage(): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return `<!doctype html><html><head><meta charset="utf-8"><title>OFP GraphQL</title>
<style>body{font-family:sans-serif;margin:1rem}textarea{width:100%;font-family:monospace}pre{background:#f4f4f4;padding:1rem;overflow:auto}</style>
</head><body><h1>Online Feature Plane — GraphQL</h1>
<label>Bearer token <input id="token" size="60"></label>
<h2>Query</h2><textarea id="query" rows="30">${esc(EXAMPLE_QUERY)}</textarea>
<h2>Variables</h2><textarea id="variables" rows="12">${esc(JSON.stringify(EXAMPLE_VARIABLES, null, 2))}</textarea>
<p><button id="run">Run</button></p><pre id="result"></pre>
<script>
document.getElementById('run').onclick = async () => {
  const res = await fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json',
    authorization: 'Bearer ' + document.getElementById('token').value },
    body: JSON.stringify({ query: document.getElementById('query').value,
      variables: JSON.parse(document.getElementById('variables').value || '{}') }) });
  document.getElementById('result').textContent = JSON.stringify(await res.json(), null, 2);
};
</script></body></html>`;
}
