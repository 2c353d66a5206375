package dev.flotilla.gateway.usage;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The spool on a really full disk: {@link FullDiskProbe} runs in a JVM of its own inside a user and
 * mount namespace ({@code unshare -rm}) whose only view of {@code dir} is a 1 MiB tmpfs, so the
 * kernel answers ENOSPC exactly as a full volume would. Needs {@code unshare} and unprivileged user
 * namespaces (or root); without them the test is skipped and says so.
 */
class UsageSpoolFullDiskTest {
  private static final int NO_MOUNT = 97;

  @TempDir Path dir;

  @Test
  void onAFullDiskAppendsFailWholeAndEverythingAcknowledgedReadsBack() throws Exception {
    String java = ProcessHandle.current().info().command().orElse("java");
    String script =
        "mount -t tmpfs -o size=1m tmpfs \"$1\" || exit "
            + NO_MOUNT
            + "; exec \"$2\" -Xmx256m -cp \"$3\" "
            + FullDiskProbe.class.getName()
            + " \"$1\"";
    Process p;
    try {
      p =
          new ProcessBuilder(
                  List.of(
                      "unshare",
                      "-rm",
                      "sh",
                      "-c",
                      script,
                      "probe",
                      dir.toString(),
                      java,
                      System.getProperty("java.class.path")))
              .redirectErrorStream(true)
              .start();
    } catch (IOException e) {
      Assumptions.abort("no unshare here, so no small file system to fill: " + e.getMessage());
      return;
    }
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("the probe finished").isTrue();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    Assumptions.assumeFalse(
        p.exitValue() == NO_MOUNT || out.contains("unshare: "),
        "cannot mount a small tmpfs in a user and mount namespace here: " + out);
    assertThat(out).as("probe output").contains("PASS acknowledged=");
    assertThat(p.exitValue()).isZero();
  }
}
