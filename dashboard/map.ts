import L from 'leaflet';
import { member, typeOf, type KeyValues } from './api';

/** What the map draws, by kind: the places of the valley as GeoJSON points, no basemap needed. */
export type Kind = 'municipality' | 'project' | 'sensor';

const STYLE: Record<Kind, L.CircleMarkerOptions> = {
  municipality: { radius: 11, color: '#1d4ed8', fillColor: '#3b82f6', fillOpacity: 0.35, weight: 2 },
  project: { radius: 7, color: '#b45309', fillColor: '#f59e0b', fillOpacity: 0.8, weight: 1 },
  sensor: { radius: 5, color: '#047857', fillColor: '#10b981', fillOpacity: 0.9, weight: 1 },
};

export interface Place {
  entity: KeyValues;
  kind: Kind;
}

export class ValleyMap {
  private readonly map: L.Map;
  private readonly layer: L.GeoJSON;
  private fitted = false;

  constructor(element: HTMLElement, tileUrl: string | undefined, private readonly onSelect: (id: string) => void) {
    this.map = L.map(element, { zoomControl: true, attributionControl: Boolean(tileUrl) });
    // no internet on site: tiles only when an operator configured a tile server
    if (tileUrl) L.tileLayer(tileUrl, { maxZoom: 18 }).addTo(this.map);
    this.map.setView([46.26, 9.86], 12);
    this.layer = L.geoJSON(undefined, {
      pointToLayer: (feature, latlng) => L.circleMarker(latlng, STYLE[(feature.properties as { kind: Kind }).kind]),
      onEachFeature: (feature, layer) => {
        const p = feature.properties as { id: string; kind: Kind; label: string };
        layer.bindTooltip(p.label, { permanent: p.kind === 'municipality', direction: 'top' });
        if (p.kind === 'sensor') layer.on('click', () => this.onSelect(p.id));
      },
    }).addTo(this.map);
  }

  /** Redraws the places (those with a GeoJSON location); the view is fitted once. */
  draw(places: Place[]): void {
    const features: GeoJSON.Feature[] = [];
    for (const { entity, kind } of places) {
      const geometry = member(entity, 'location') as GeoJSON.Geometry | undefined;
      if (!geometry || typeof geometry !== 'object' || !('type' in geometry)) continue;
      const name = String(member(entity, 'name') ?? entity.id);
      features.push({ type: 'Feature', geometry, properties: { id: entity.id, kind, label: kind === 'sensor' ? `${typeOf(entity)}: ${name}` : name } });
    }
    this.layer.clearLayers();
    this.layer.addData({ type: 'FeatureCollection', features } as GeoJSON.FeatureCollection);
    if (!this.fitted && features.length) {
      this.map.fitBounds(this.layer.getBounds(), { padding: [30, 30] });
      this.fitted = true;
    }
  }
}
