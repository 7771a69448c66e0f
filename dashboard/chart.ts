import uPlot from 'uplot';

/** A sensor attribute's recent history as a line chart (uPlot): times in seconds, numbers only. */
export class HistoryChart {
  private plot?: uPlot;

  constructor(private readonly element: HTMLElement) {}

  /** pairs: [value, ISO time] as the temporal API's temporalValues give them */
  show(title: string, pairs: [unknown, string][]): boolean {
    const points = pairs
      .map(([v, t]) => [Date.parse(t) / 1000, typeof v === 'number' ? v : NaN] as const)
      .filter(([t, v]) => Number.isFinite(t) && Number.isFinite(v))
      .sort((a, b) => a[0] - b[0]);
    this.plot?.destroy();
    this.plot = undefined;
    if (points.length === 0) return false;
    const width = Math.max(280, this.element.clientWidth || 400);
    this.plot = new uPlot(
      {
        title, width, height: 220,
        series: [{}, { label: title, stroke: '#047857', width: 2, points: { show: points.length < 60 } }],
        axes: [{}, {}],
      },
      [points.map((p) => p[0]), points.map((p) => p[1])],
      this.element,
    );
    return true;
  }
}
