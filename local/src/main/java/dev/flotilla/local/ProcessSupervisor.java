package dev.flotilla.local;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Starts the local processes (API-server clients, the broker, worker pods), sends each one's stdout
 * and stderr to its log file, and stops them: SIGTERM to the process and everything it started,
 * then SIGKILL after the grace period. {@link #close()} stops whatever is still running.
 */
public final class ProcessSupervisor implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(ProcessSupervisor.class.getName());
  private final List<Child> children = new CopyOnWriteArrayList<>();

  /** A started process. */
  public record Child(String name, Process process, Path log) {
    public boolean isAlive() {
      return process.isAlive();
    }

    public long pid() {
      return process.pid();
    }
  }

  /**
   * Starts {@code command} with the current environment minus any {@code QUARKUS_*} and {@code
   * FLOTILLA_*} variables, plus {@code env}; output is appended to {@code log}.
   */
  public Child start(
      String name, List<String> command, Map<String, String> env, Path log, Path workDir)
      throws IOException {
    Files.createDirectories(log.toAbsolutePath().getParent());
    Files.createDirectories(workDir);
    ProcessBuilder builder =
        new ProcessBuilder(command)
            .directory(workDir.toFile())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    builder
        .environment()
        .keySet()
        .removeIf(k -> k.startsWith("QUARKUS_") || k.startsWith("FLOTILLA_"));
    builder.environment().putAll(env);
    Child child = new Child(name, builder.start(), log);
    children.add(child);
    return child;
  }

  /** SIGTERM to the process and its descendants; SIGKILL to what is left after {@code grace}. */
  public CompletableFuture<Void> stop(Child child, Duration grace) {
    return CompletableFuture.runAsync(
        () -> {
          List<ProcessHandle> tree = new ArrayList<>(child.process().descendants().toList());
          tree.add(0, child.process().toHandle());
          tree.forEach(ProcessHandle::destroy);
          long deadline = System.nanoTime() + grace.toNanos();
          for (ProcessHandle h : tree) {
            long left = deadline - System.nanoTime();
            try {
              if (left > 0) {
                h.onExit().get(left, TimeUnit.NANOSECONDS);
              }
            } catch (Exception e) {
              // Still running after the grace period: killed below.
            }
            if (h.isAlive()) {
              LOG.warning(
                  () ->
                      child.name()
                          + ": still running "
                          + grace.toSeconds()
                          + " s after SIGTERM, killing pid "
                          + h.pid());
              h.destroyForcibly();
            }
          }
          children.remove(child);
        });
  }

  /**
   * SIGKILL to the process and its descendants at once, as a crash would; returns once it is gone.
   */
  public void kill(Child child) {
    List<ProcessHandle> tree = new ArrayList<>(child.process().descendants().toList());
    tree.add(0, child.process().toHandle());
    tree.forEach(ProcessHandle::destroyForcibly);
    tree.forEach(h -> h.onExit().join());
    children.remove(child);
  }

  public List<Child> children() {
    return List.copyOf(children);
  }

  /** Stops every child still running, all at once, each with {@code grace}. */
  public void stopAll(Duration grace) {
    List<CompletableFuture<Void>> stops = children.stream().map(c -> stop(c, grace)).toList();
    CompletableFuture.allOf(stops.toArray(CompletableFuture[]::new)).join();
  }

  @Override
  public void close() {
    stopAll(Duration.ofSeconds(10));
  }

  /** The java launcher of this JVM, so children run on the same Java. */
  public static String javaCommand() {
    return ProcessHandle.current()
        .info()
        .command()
        .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
  }
}
