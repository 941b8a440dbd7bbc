/**
 * Waiting for a partition file to grow without busy-polling.
 *
 * One `fs.watch` per directory is shared by every waiter in it (a directory watch reports appends to the files in
 * it as well as their creation, and keeps working when a file is replaced). Waiters watch the stream directory, or
 * the bus root while the stream directory does not exist yet. Watch events can be missed (network filesystems,
 * exhausted inotify watches), so waiters also wake on a slow poll timer.
 */
import fs from 'node:fs';
import path from 'node:path';

/** `broken` is true when the watch itself ended (directory removed); the subscription is gone then. */
type Listener = (filename: string | null, broken: boolean) => void;

interface DirWatch {
  watcher: fs.FSWatcher;
  listeners: Set<Listener>;
}

export class DirWatchHub {
  private readonly watches = new Map<string, DirWatch>();

  /** Calls `listener` on every change in `dir`; returns an unsubscribe function, or null when `dir` cannot be watched. */
  subscribe(dir: string, listener: Listener): (() => void) | null {
    let entry = this.watches.get(dir);
    if (!entry) {
      let watcher: fs.FSWatcher;
      try {
        // persistent: false so that a forgotten wait never keeps the process alive; the wait's own timer does.
        watcher = fs.watch(dir, { persistent: false });
      } catch {
        return null;
      }
      const created: DirWatch = { watcher, listeners: new Set() };
      watcher.on('change', (_event, filename) => {
        const name = filename === null || filename === undefined ? null : String(filename);
        for (const l of [...created.listeners]) l(name, false);
      });
      watcher.on('error', () => {
        // The directory went away (or the watch broke): wake everyone so they re-evaluate, and drop the watch.
        this.drop(dir, created);
        for (const l of [...created.listeners]) l(null, true);
      });
      this.watches.set(dir, created);
      entry = created;
    }
    const e = entry;
    e.listeners.add(listener);
    return () => {
      e.listeners.delete(listener);
      if (e.listeners.size === 0) this.drop(dir, e);
    };
  }

  closeAll(): void {
    for (const [dir, e] of [...this.watches]) this.drop(dir, e);
  }

  private drop(dir: string, e: DirWatch): void {
    if (this.watches.get(dir) === e) this.watches.delete(dir);
    e.watcher.close();
  }
}

/**
 * One pending read's view of changes to `<root>/<stream>/<fileName>`. Call `refresh()` before each re-check of the
 * file (so that a change between the check and the wait sets `dirty` instead of being lost), then `next()`.
 */
export class ChangeWaiter {
  private unsubscribe: (() => void) | null = null;
  private watching: 'none' | 'root' | 'stream' = 'none';
  private dirty = false;
  private wake: (() => void) | null = null;
  private disposed = false;

  constructor(
    private readonly hub: DirWatchHub,
    private readonly root: string,
    private readonly stream: string,
    private readonly fileName: string,
  ) {}

  /** Watches the stream directory when it exists, else the root (to see the stream directory appear). */
  refresh(): void {
    if (this.disposed || this.watching === 'stream') return;
    const dir = path.join(this.root, this.stream);
    const sub = this.hub.subscribe(dir, (name, broken) =>
      this.onChange(name === null || name === this.fileName, broken),
    );
    if (sub) {
      this.unsubscribe?.();
      this.unsubscribe = sub;
      this.watching = 'stream';
      return;
    }
    if (this.watching === 'none') {
      const rootSub = this.hub.subscribe(this.root, (name, broken) =>
        this.onChange(name === null || name === this.stream, broken),
      );
      if (rootSub) {
        this.unsubscribe = rootSub;
        this.watching = 'root';
      }
    }
  }

  /** Resolves on a relevant change since the last call, after `timeoutMs`, on abort, or on dispose. */
  next(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.dirty || this.disposed || signal?.aborted) {
      this.dirty = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.wake = null;
        this.dirty = false;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      signal?.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.wake?.();
  }

  private onChange(relevant: boolean, broken: boolean): void {
    if (broken) {
      // The hub dropped the watch; the next refresh() subscribes again to whatever exists then.
      this.unsubscribe = null;
      this.watching = 'none';
    }
    if (!relevant) return;
    this.dirty = true;
    this.wake?.();
  }
}
