/**
 * The valley dashboard (served at /dashboard, bundled by esbuild: npm run build:dashboard). It
 * reads the NGSI-LD API like any client: the seeded municipalities, projects and sensors on a map,
 * the corridor × municipality matrix of projects, and a chosen sensor's recent history from the
 * temporal API. /dashboard/events (server-sent events) says when data changed; the page reloads then.
 */
import 'leaflet/dist/leaflet.css';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { Api, ApiError, member, short, typeOf, type KeyValues } from './api';
import { ValleyMap } from './map';
import { renderMatrix } from './matrix';
import { HistoryChart } from './chart';

/** Entity types drawn as sensors: Smart Data Models observations and measurements. */
const SENSOR_TYPE = /(Observed|Measurement)$/;
/** instances per attribute in the chart */
const HISTORY_POINTS = 200;
const API_KEY = 'smartland.apiKey';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const tenant = new URLSearchParams(location.search).get('tenant') ?? '';
const api = new Api(tenant, () => localStorage.getItem(API_KEY));
const map = new ValleyMap($('map'), document.body.dataset.tileUrl || undefined, (id) => selectSensor(id));
const chart = new HistoryChart($('chart'));
const sensorSelect = $<HTMLSelectElement>('sensor');
const attributeSelect = $<HTMLSelectElement>('attribute');
const nameOf = (e: KeyValues) => String(member(e, 'name') ?? short(e.id));
/** the attribute the user picked for the chosen sensor; none: the longest history is drawn */
let chosenAttribute: string | undefined;

function setStatus(text: string, error = false): void {
  const s = $('status');
  s.textContent = text;
  s.classList.toggle('error', error);
}

async function loadValley(): Promise<void> {
  const types = await api.types();
  const ofType = (name: string) => api.entities(types.has(name) ? [types.get(name)!] : []);
  const sensorTypes = [...types].filter(([name]) => SENSOR_TYPE.test(name)).map(([, iri]) => iri);
  const [municipalities, corridors, projects, sensors] = await Promise.all([
    ofType('PublicOrganization'), ofType('ThematicCorridor'), ofType('Project'), api.entities(sensorTypes),
  ]);
  for (const list of [municipalities, corridors, projects, sensors]) list.sort((a, b) => nameOf(a).localeCompare(nameOf(b)));
  map.draw([
    ...municipalities.map((entity) => ({ entity, kind: 'municipality' as const })),
    ...projects.map((entity) => ({ entity, kind: 'project' as const })),
    ...sensors.map((entity) => ({ entity, kind: 'sensor' as const })),
  ]);
  $('municipalities').replaceChildren(...municipalities.map((m) => Object.assign(document.createElement('li'), { textContent: nameOf(m) })));
  renderMatrix($<HTMLTableElement>('matrix'), corridors, municipalities, projects);
  const selected = sensorSelect.value;
  sensorSelect.replaceChildren(...sensors.map((s) => new Option(`${typeOf(s)}: ${nameOf(s)}`, s.id)));
  sensorSelect.value = sensors.some((s) => s.id === selected) ? selected : (sensors[0]?.id ?? '');
}

/** The chosen sensor's numeric attributes; the chosen one (or the longest history) drawn. */
async function loadHistory(): Promise<void> {
  const id = sensorSelect.value;
  if (!id) return;
  const history = await api.history(id, HISTORY_POINTS);
  const numeric = Object.entries(history)
    .filter(([, v]) => Array.isArray((v as { values?: unknown }).values) && (v as { values: [unknown, string][] }).values.some(([x]) => typeof x === 'number'))
    .map(([name, v]) => ({ name, values: (v as { values: [unknown, string][] }).values }));
  attributeSelect.replaceChildren(...numeric.map((a) => new Option(short(a.name), a.name)));
  // default: the attribute with the longest history
  const longest = numeric.reduce<(typeof numeric)[number] | undefined>((best, a) => (!best || a.values.length > best.values.length ? a : best), undefined);
  const shown = numeric.find((a) => a.name === chosenAttribute) ?? longest;
  if (shown) attributeSelect.value = shown.name;
  // a line needs two points: one instance is not yet a history
  const drawn = shown !== undefined && shown.values.length > 1 && chart.show(`${short(shown.name)}`, shown.values);
  if (!drawn) chart.show('', []);
  $('chart-note').textContent = drawn ? '' : 'Not enough history yet for this sensor.';
}

// one refresh at a time; changes announced meanwhile cause one more
let running: Promise<void> | undefined;
let again = false;
function refresh(): void {
  if (running) {
    again = true;
    return;
  }
  running = (async () => {
    try {
      await loadValley();
      await loadHistory();
      $('key-form').hidden = true;
      setStatus(`updated ${new Date().toLocaleTimeString()}`);
    } catch (err) {
      const auth = err instanceof ApiError && (err.status === 401 || err.status === 403);
      $('key-form').hidden = !auth;
      setStatus(auth ? 'an API key with the reader role is needed' : `error: ${(err as Error).message}`, true);
    }
  })().finally(() => {
    running = undefined;
    if (again) {
      again = false;
      refresh();
    }
  });
}

function selectSensor(id: string): void {
  sensorSelect.value = id;
  chosenAttribute = undefined;
  void loadHistory().catch((err: Error) => setStatus(`error: ${err.message}`, true));
}

sensorSelect.addEventListener('change', () => selectSensor(sensorSelect.value));
attributeSelect.addEventListener('change', () => {
  chosenAttribute = attributeSelect.value;
  void loadHistory().catch((err: Error) => setStatus(`error: ${err.message}`, true));
});
$<HTMLFormElement>('key-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  localStorage.setItem(API_KEY, $<HTMLInputElement>('api-key').value.trim());
  refresh();
});

// live updates: the server says when a write changed data (EventSource reconnects by itself)
const events = new EventSource(`/dashboard/events${tenant ? `?tenant=${encodeURIComponent(tenant)}` : ''}`);
events.addEventListener('change', () => refresh());
events.addEventListener('open', () => $('live').classList.add('on'));
events.addEventListener('error', () => $('live').classList.remove('on'));
refresh();
