import { NgsiError } from '../../src/ngsi-ld/errors';

/** Awaits a promise that must reject with an NgsiError, and returns that error. */
export async function failure(p: Promise<unknown>): Promise<NgsiError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(NgsiError);
    return err as NgsiError;
  }
  throw new Error('expected a failure');
}
