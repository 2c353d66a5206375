package dev.flotilla.worker.fetch;

import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * How far one fetch has come: files and bytes done of those known. A listener hears a line at each
 * file's start and end and at least every {@link #REPORT_EVERY_BYTES} bytes.
 */
public final class Progress {
  static final long REPORT_EVERY_BYTES = 64L << 20;

  private final String source;
  private final Consumer<String> listener;
  private final AtomicLong bytesDone = new AtomicLong();
  private volatile long bytesTotal;
  private volatile int filesDone;
  private volatile int filesTotal;
  private volatile String current = "";
  private long lastReport;

  public Progress(String source, Consumer<String> listener) {
    this.source = source;
    this.listener = listener;
  }

  /** A progress nobody listens to. */
  public static Progress silent(String source) {
    return new Progress(source, line -> {});
  }

  void plan(int files, long bytes) {
    filesTotal = files;
    bytesTotal = bytes;
    report();
  }

  void starting(String file) {
    current = file;
    report();
  }

  /** Bytes already on disk from an earlier, interrupted attempt count as done. */
  void bytes(long n) {
    long done = bytesDone.addAndGet(n);
    synchronized (this) {
      if (done - lastReport >= REPORT_EVERY_BYTES) {
        lastReport = done;
        report();
      }
    }
  }

  void finished(String file) {
    filesDone++;
    current = "";
    report();
  }

  public long bytesDone() {
    return bytesDone.get();
  }

  public int filesDone() {
    return filesDone;
  }

  /**
   * One line, e.g. {@code hf://org/repo@main: 2/5 files, 1.2 GiB of 4.0 GiB, at
   * model-00002-of-00003.safetensors}.
   */
  public String describe() {
    StringBuilder b =
        new StringBuilder(source)
            .append(": ")
            .append(filesDone)
            .append('/')
            .append(filesTotal)
            .append(" files, ")
            .append(size(bytesDone.get()));
    if (bytesTotal > 0) {
      b.append(" of ").append(size(bytesTotal));
    }
    if (!current.isEmpty()) {
      b.append(", at ").append(current);
    }
    return b.toString();
  }

  private void report() {
    listener.accept(describe());
  }

  static String size(long bytes) {
    if (bytes < 1024) {
      return bytes + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB"};
    double v = bytes;
    int u = -1;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
  }
}
