package dev.flotilla.worker;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Keeps plain JUnit tests silent: expected warnings (failed adapter loads), model-load notes, DJL's
 * chatter.
 */
public final class TestLogs {
  // JUL keeps loggers weakly; holding them keeps the level.
  private static final List<Logger> HELD = new ArrayList<>();

  private TestLogs() {}

  /** Shows only SEVERE records of the worker's and DJL's loggers. */
  public static synchronized void quiet() {
    if (!HELD.isEmpty()) {
      return;
    }
    for (String c : new String[] {"dev.flotilla.worker", "ai.djl"}) {
      Logger logger = Logger.getLogger(c);
      logger.setLevel(Level.SEVERE);
      HELD.add(logger);
    }
  }
}
