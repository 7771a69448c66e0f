/** The dashboard's one HTML page; the bundle (dist/dashboard/app.js, app.css) does the rest. */

const escapeAttr = (s: string): string => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

export function dashboardPage(opts: { tileUrl?: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>In Valmalenco — Smartland</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/app.css">
</head>
<body data-tile-url="${escapeAttr(opts.tileUrl ?? '')}">
<header>
  <h1>In Valmalenco</h1>
  <span id="live" title="live updates"></span>
  <span id="status">loading…</span>
  <form id="key-form" hidden><label>API key <input id="api-key" type="password" autocomplete="off"></label> <button>Use</button></form>
</header>
<main>
  <section id="map" aria-label="map of the valley"></section>
  <aside>
    <h2>Municipalities</h2>
    <ul id="municipalities"></ul>
    <h2>Sensor history</h2>
    <select id="sensor" aria-label="sensor"></select>
    <select id="attribute" aria-label="attribute"></select>
    <div id="chart"></div>
    <p id="chart-note"></p>
  </aside>
  <section id="matrix-section">
    <h2>Projects by thematic corridor and municipality</h2>
    <table id="matrix"></table>
  </section>
</main>
<script src="/dashboard/app.js"></script>
</body>
</html>
`;
}

/**
 * The page's Content-Security-Policy: own scripts and styles (Leaflet and uPlot set inline styles),
 * data: images (Leaflet's icons), tiles only from the configured tile server.
 */
export function dashboardCsp(tileUrl: string | undefined): string {
  const tiles = tileUrl ? ` ${new URL(tileUrl.replace(/[{}]/g, '')).origin}` : '';
  return `default-src 'self'; img-src 'self' data:${tiles}; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'`;
}
