package dev.flotilla.sdk.cli;

import dev.flotilla.sdk.FlotillaClient;
import java.io.PrintStream;

/** One sub-command, already parsed, run against a connected client. */
interface CliCommand {
  /**
   * @return the exit status
   * @throws dev.flotilla.sdk.FlotillaException when the call fails
   */
  int run(FlotillaClient client, PrintStream out, PrintStream err);
}
