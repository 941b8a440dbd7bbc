/**
 * GraphiQL served entirely from local files (the machines are offline: no CDN). The UMD builds of React 18 and
 * GraphiQL 3 come from node_modules; the page prefills the SPEC 7 features query and lets the user paste a token.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EXAMPLE_QUERY, EXAMPLE_VARIABLES } from '../graphql/example-query';

/** URL path → file under node_modules, with its content type. */
export const GRAPHIQL_ASSETS: Readonly<Record<string, { module: string; file: string; type: string }>> = {
  '/graphiql/react.js': { module: 'react', file: 'umd/react.production.min.js', type: 'text/javascript' },
  '/graphiql/react-dom.js': {
    module: 'react-dom',
    file: 'umd/react-dom.production.min.js',
    type: 'text/javascript',
  },
  '/graphiql/graphiql.js': { module: 'graphiql', file: 'graphiql.min.js', type: 'text/javascript' },
  '/graphiql/graphiql.css': { module: 'graphiql', file: 'graphiql.min.css', type: 'text/css' },
};

const cache = new Map<string, Buffer>();

/** Returns an asset's bytes and type, or undefined for an unknown path. Files are read once and kept. */
export function graphiqlAsset(urlPath: string): { body: Buffer; type: string } | undefined {
  const asset = GRAPHIQL_ASSETS[urlPath];
  if (!asset) return undefined;
  let body = cache.get(urlPath);
  if (!body) {
    const dir = path.dirname(require.resolve(`${asset.module}/package.json`));
    body = fs.readFileSync(path.join(dir, asset.file));
    cache.set(urlPath, body);
  }
  return { body, type: asset.type };
}

export function graphiqlPage(): string {
  const query = JSON.stringify(EXAMPLE_QUERY);
  const variables = JSON.stringify(JSON.stringify(EXAMPLE_VARIABLES, null, 2));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>OFP GraphQL</title>
<link rel="stylesheet" href="/graphiql/graphiql.css">
<style>body{margin:0;height:100vh;display:flex;flex-direction:column}#bar{padding:6px;font:14px sans-serif;background:#f3f3f3}#graphiql{flex:1}</style>
</head><body>
<div id="bar">Online Feature Plane · bearer token <input id="token" size="48" placeholder="reader or operator token"></div>
<div id="graphiql">Loading GraphiQL…</div>
<script src="/graphiql/react.js"></script>
<script src="/graphiql/react-dom.js"></script>
<script src="/graphiql/graphiql.js"></script>
<script>
  const tokenInput = document.getElementById('token');
  tokenInput.value = localStorage.getItem('ofp-token') || '';
  const root = ReactDOM.createRoot(document.getElementById('graphiql'));
  // A new fetcher per token makes GraphiQL fetch the schema again with it.
  const render = () => {
    const token = tokenInput.value;
    const fetcher = async (params) => {
      const res = await fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer ' + token },
        body: JSON.stringify(params),
      });
      return res.json();
    };
    root.render(React.createElement(GraphiQL, { key: token, fetcher, defaultQuery: ${query}, variables: ${variables},
      defaultEditorToolsVisibility: 'variables' }));
  };
  tokenInput.addEventListener('change', () => { localStorage.setItem('ofp-token', tokenInput.value); render(); });
  render();
</script>
</body></html>`;
}
