import { openTestApp } from '../helpers/app';
test('smoke', async () => {
  console.error('start');
  const { app } = await openTestApp();
  console.error('app ready');
  let r = await app.inject({ method: 'POST', url: '/ngsi-ld/v1/entities', payload: { id: 'urn:ngsi-ld:T:1', type: 'T', temperature: { type: 'Property', value: 21, unitCode: 'CEL' }, location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [9.85, 46.26] } } } });
  console.log(r.statusCode, r.body, r.headers);
  r = await app.inject({ method: 'GET', url: '/ngsi-ld/v1/entities/urn:ngsi-ld:T:1' });
  console.log(r.statusCode, r.body, r.headers);
  r = await app.inject({ method: 'GET', url: '/ngsi-ld/v1/entities?type=T&q=temperature>20&georel=near;maxDistance==1000&geometry=Point&coordinates=[9.85,46.26]&options=keyValues&count=true' });
  console.log(r.statusCode, r.body, r.headers);
  r = await app.inject({ method: 'POST', url: '/ngsi-ld/v1/entityOperations/upsert', payload: [{ id: 'urn:ngsi-ld:T:1', type: 'T', x: 1 }, { id: 'urn:ngsi-ld:T:2', type: 'T', x: 2 }, {id: 'bad'}] });
  console.log(r.statusCode, r.body);
  r = await app.inject({ method: 'GET', url: '/ngsi-ld/v1/types?details=true' });
  console.log(r.statusCode, r.body);
  r = await app.inject({ method: 'GET', url: '/ngsi-ld/v1/attributes' });
  console.log(r.statusCode, r.body);
  await app.close();
});
