package dev.flotilla.worker.scheduler;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * The writes one pass of the engine thread produces (a step's tokens and final messages), grouped
 * by the event loop that carries them, each loop's share handed over in one task when the pass
 * ends.
 *
 * <p>Why: a step yields a message for every running sequence. Written one by one from the engine
 * thread, each write wakes the connection's event loop, and where that loop shares a core with the
 * engine it can preempt the engine after every message: one flush, one syscall and two context
 * switches per token. Run as one task on the loop, a step's writes to a connection are queued
 * in-loop and flushed together.
 *
 * <p>Engine thread only, like the rest of the scheduler's state.
 */
final class LoopWrites {
  private final Map<Executor, List<Runnable>> due = new LinkedHashMap<>();

  void add(Executor loop, Runnable write) {
    due.computeIfAbsent(loop, l -> new ArrayList<>()).add(write);
  }

  /** Hands every loop its writes; a loop that refuses (shutting down) gets them run here. */
  void dispatch() {
    if (due.isEmpty()) {
      return;
    }
    for (Map.Entry<Executor, List<Runnable>> e : due.entrySet()) {
      List<Runnable> writes = e.getValue();
      try {
        e.getKey().execute(() -> writes.forEach(Runnable::run));
      } catch (RejectedExecutionException closing) {
        writes.forEach(Runnable::run);
      }
    }
    due.clear();
  }
}
