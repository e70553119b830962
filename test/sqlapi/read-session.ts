import { afterAll, beforeAll } from 'vitest';
import { embeddedEngine, type ReadSession } from '../../sqlapi/engine.js';
import { tempStore, type TempStore } from '../helpers/store.js';

/** A migrated temporary store and one read session over it, for the file's tests. */
export function useReadSession(): { store(): TempStore; session(): ReadSession } {
  let store: TempStore | undefined;
  let session: ReadSession | undefined;
  beforeAll(async () => {
    store = await tempStore();
    session = await embeddedEngine(store.dataDir).open([], 'tracegate');
  });
  afterAll(async () => {
    session?.close();
    await store?.destroy();
  });
  return { store: () => store!, session: () => session! };
}
