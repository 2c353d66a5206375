package dev.flotilla.worker.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.junit.jupiter.api.Test;

/**
 * A pass's writes reach their event loop first messages first, and a transport's flush of those
 * (queued on the loop by the writes, as grpc's Netty transport does) runs before the rest is
 * written.
 */
class LoopWritesTest {
    /** An event loop run by hand: tasks queue up in order. */
    private static final class Loop implements Executor {
        final Deque<Runnable> tasks = new ArrayDeque<>();

        @Override
        public void execute(Runnable task) {
            tasks.add(task);
        }

        void runAll() {
            while (!tasks.isEmpty()) {
                tasks.poll().run();
            }
        }
    }

    @Test
    void firstMessagesAreWrittenAndFlushedBeforeTheRestOfThePass() {
        Loop loop = new Loop();
        List<String> log = new ArrayList<>();
        // A write as the transport does it: queue the message, have the loop flush it later.
        Runnable flushOnce = () -> log.add("flush");
        boolean[] flushQueued = {false};
        java.util.function.Function<String, Runnable> write = name -> () -> {
            log.add(name);
            if (!flushQueued[0]) {
                flushQueued[0] = true;
                loop.execute(() -> {
                    flushQueued[0] = false;
                    flushOnce.run();
                });
            }
        };
        LoopWrites writes = new LoopWrites();
        writes.add(loop, write.apply("token a"), false);
        writes.add(loop, write.apply("first b"), true);
        writes.add(loop, write.apply("token c"), false);
        writes.add(loop, write.apply("first d"), true);
        writes.dispatch();
        assertThat(loop.tasks).as("one task per loop").hasSize(1);
        loop.runAll();
        assertThat(log).containsExactly("first b", "first d", "flush", "token a", "token c", "flush");
    }

    @Test
    void aPassWithoutFirstMessagesIsOneTask() {
        Loop loop = new Loop();
        List<String> log = new ArrayList<>();
        LoopWrites writes = new LoopWrites();
        writes.add(loop, () -> log.add("a"), false);
        writes.add(loop, () -> log.add("b"), false);
        writes.dispatch();
        assertThat(loop.tasks).hasSize(1);
        loop.tasks.poll().run();
        assertThat(loop.tasks).isEmpty();
        assertThat(log).containsExactly("a", "b");
    }

    @Test
    void aLoopThatRefusesGetsItsWritesRunHereInOrder() {
        Executor closing = task -> {
            throw new RejectedExecutionException("closing");
        };
        List<String> log = new ArrayList<>();
        LoopWrites writes = new LoopWrites();
        writes.add(closing, () -> log.add("token"), false);
        writes.add(closing, () -> log.add("first"), true);
        writes.dispatch();
        assertThat(log).containsExactly("first", "token");
    }
}
