package dev.flotilla.gateway.bench;

import java.util.logging.Level;
import org.jboss.logmanager.LogContext;
import org.jboss.logmanager.Logger;

/**
 * Production log levels for the benchmark's plain-Java processes. Outside a Quarkus application the
 * JBoss LogManager on the classpath starts with the root level at ALL and a handler that buffers
 * every record until Quarkus would start: Netty's HTTP/2 frame logger then formats and keeps a
 * DEBUG record (with a hex dump) for every frame. A Quarkus gateway runs at INFO ({@code
 * quarkus.log.level}), so the benchmark does too.
 */
final class BenchLogs {
  // The log context may hold loggers weakly; holding the root keeps its level.
  private static Logger root;

  private BenchLogs() {}

  static synchronized void productionLevels() {
    root = LogContext.getLogContext().getLogger("");
    root.setLevel(Level.INFO);
  }
}
