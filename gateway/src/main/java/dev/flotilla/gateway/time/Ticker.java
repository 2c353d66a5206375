package dev.flotilla.gateway.time;

/** A monotonic nanosecond source; tests substitute a manual one. */
@FunctionalInterface
public interface Ticker {
  long nanos();

  static Ticker system() {
    return System::nanoTime;
  }
}
