package dev.flotilla.sdk.cli;

/**
 * The command line cannot be understood; the CLI prints the message and its usage and exits with 2.
 */
final class UsageException extends Exception {
  UsageException(String message) {
    super(message);
  }
}
