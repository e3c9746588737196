// The web app's HTML, written on the server: no build step, no script needed to read it.
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const STYLE = `
body{font-family:system-ui,DejaVu Sans,Arial,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
header{background:#1f3a5f;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:center}
header a{color:#fff;text-decoration:none} header .grow{flex:1}
main{padding:16px 20px}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border-bottom:1px solid #dde1e6;padding:6px 8px;text-align:left;font-size:14px}
th{background:#eef1f5}
.high{color:#b00020;font-weight:bold}.intermediate{color:#a15c00;font-weight:bold}.low{color:#2e7d32}
.failed{color:#b00020}.delivered{color:#2e7d32}.pending{color:#a15c00}
form.filters{display:flex;gap:12px;margin-bottom:12px;align-items:end;flex-wrap:wrap}
label{font-size:13px;display:flex;flex-direction:column;gap:2px}
.images{display:flex;flex-wrap:wrap;gap:16px}.images figure{margin:0;background:#fff;padding:8px;border:1px solid #dde1e6}
.images img{max-width:480px;height:auto;display:block}
.note{color:#555;font-size:13px}
.editor{position:relative;max-width:480px}.editor img{max-width:480px;width:100%}
.editor svg{position:absolute;left:0;top:0;width:100%;height:100%;cursor:crosshair;touch-action:none}
.outline{fill:rgba(255,212,0,.08);stroke:#ffd400;stroke-width:2;vector-effect:non-scaling-stroke}.outline.selected{stroke:#ff3b30}
.handle{fill:#ffd400;stroke:#1b1f24;stroke-width:1;vector-effect:non-scaling-stroke;cursor:move}
#correction{display:flex;gap:12px;align-items:end;margin:12px 0}
`;

export function page(title: string, body: string, opts: { signedIn?: boolean } = {}): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} - Sentinel</title><style>${STYLE}</style></head>
<body><header><a href="/app/"><strong>Sentinel</strong></a>${opts.signedIn ? '<a href="/app/">Worklist</a><a href="/app/models">Models</a><a href="/app/system">System</a>' : ''}<span class="grow">AI results for research use only: not a medical device</span>${opts.signedIn ? '<form method="post" action="/app/logout"><button type="submit">Sign out</button></form>' : ''}</header>
<main>${body}</main></body></html>`;
}
