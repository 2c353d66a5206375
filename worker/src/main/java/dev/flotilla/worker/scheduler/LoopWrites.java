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
    /** One loop's writes of this pass: first messages of their calls, then the rest. */
    private static final class Due {
        final List<Runnable> first = new ArrayList<>();
        final List<Runnable> rest = new ArrayList<>();
    }

    private final Map<Executor, Due> due = new LinkedHashMap<>();

    /** @param firstOfCall the call's first message: it goes out ahead of the pass's others */
    void add(Executor loop, Runnable write, boolean firstOfCall) {
        Due d = due.computeIfAbsent(loop, l -> new Due());
        (firstOfCall ? d.first : d.rest).add(write);
    }

    /**
     * Hands every loop its writes; a loop that refuses (shutting down) gets them run here. A
     * loop's first messages run in one task that then queues the rest behind it: the transport
     * flushes what a task wrote in a task of its own, queued after the writing one, so the first
     * tokens leave in a flush of their own instead of waiting for the step's other messages to be
     * framed (and a reader such as a gateway gets them in a read of their own).
     */
    void dispatch() {
        if (due.isEmpty()) {
            return;
        }
        for (Map.Entry<Executor, Due> e : due.entrySet()) {
            Executor loop = e.getKey();
            List<Runnable> first = e.getValue().first;
            List<Runnable> rest = e.getValue().rest;
            Runnable restTask = () -> rest.forEach(Runnable::run);
            try {
                if (first.isEmpty()) {
                    loop.execute(restTask);
                } else {
                    loop.execute(() -> {
                        first.forEach(Runnable::run);
                        if (!rest.isEmpty()) {
                            try {
                                loop.execute(restTask);
                            } catch (RejectedExecutionException closing) {
                                restTask.run();
                            }
                        }
                    });
                }
            } catch (RejectedExecutionException closing) {
                first.forEach(Runnable::run);
                restTask.run();
            }
        }
        due.clear();
    }
}
