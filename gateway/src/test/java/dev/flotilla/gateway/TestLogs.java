package dev.flotilla.gateway;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

/** Keeps plain JUnit tests silent: expected warnings and embedded servers' chatter. */
public final class TestLogs {
  // JUL keeps loggers weakly; holding them keeps the level.
  private static final List<Logger> HELD = new ArrayList<>();

  private TestLogs() {}

  /** Shows only SEVERE records of these logger categories. */
  public static synchronized void quiet(String... categories) {
    for (String c : categories) {
      Logger logger = Logger.getLogger(c);
      logger.setLevel(Level.SEVERE);
      HELD.add(logger);
    }
  }
}
