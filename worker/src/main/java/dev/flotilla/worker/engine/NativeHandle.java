package dev.flotilla.worker.engine;

import java.util.concurrent.atomic.AtomicLong;

/** An owned native handle: close is idempotent, use after close throws IllegalStateException. */
abstract class NativeHandle implements AutoCloseable {
  private final AtomicLong handle;
  private final String kind;

  NativeHandle(long handle, String kind) {
    this.handle = new AtomicLong(handle);
    this.kind = kind;
  }

  final long handle() {
    long h = handle.get();
    if (h == 0) {
      throw new IllegalStateException(kind + " is closed");
    }
    return h;
  }

  public final boolean isClosed() {
    return handle.get() == 0;
  }

  @Override
  public final void close() {
    long h = handle.getAndSet(0);
    if (h != 0) {
      free(h);
    }
  }

  abstract void free(long handle);
}
