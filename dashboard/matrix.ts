import { member, short, type KeyValues } from './api';

/**
 * The ITI's functional matrix: thematic corridors × municipalities, each cell the projects of that
 * corridor in that municipality with their status and completion (as contractors report them).
 */
const asList = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined || v === null ? [] : [String(v)]);

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

function projectCell(p: KeyValues): HTMLElement {
  const item = el('div', undefined, 'project');
  item.append(el('div', String(member(p, 'name') ?? short(p.id)), 'project-name'));
  const status = member(p, 'status');
  const completion = Number(member(p, 'completionPercentage'));
  item.append(el('span', status === undefined ? 'not reported' : String(status), `status status-${String(status ?? 'none')}`));
  if (Number.isFinite(completion)) {
    const bar = el('progress', undefined, 'completion');
    bar.max = 100;
    bar.value = completion;
    bar.title = `${completion} %`;
    item.append(bar, el('span', `${completion} %`, 'completion-label'));
  }
  return item;
}

export function renderMatrix(table: HTMLTableElement, corridors: KeyValues[], municipalities: KeyValues[], projects: KeyValues[]): void {
  table.replaceChildren();
  const head = el('tr');
  head.append(el('th', 'Corridor'));
  for (const m of municipalities) head.append(el('th', String(member(m, 'name') ?? m.id).replace(/^Comune di /, '')));
  table.append(el('thead'), el('tbody'));
  table.tHead!.append(head);
  for (const c of corridors) {
    const row = el('tr');
    row.dataset.corridor = c.id;
    row.append(el('th', String(member(c, 'name') ?? c.id)));
    for (const m of municipalities) {
      const cell = el('td');
      for (const p of projects) {
        if (asList(member(p, 'refThematicCorridor')).includes(c.id) && asList(member(p, 'refMunicipality')).includes(m.id)) cell.append(projectCell(p));
      }
      row.append(cell);
    }
    table.tBodies[0].append(row);
  }
}
