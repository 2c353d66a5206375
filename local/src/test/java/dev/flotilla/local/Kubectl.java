package dev.flotilla.local;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the real kubectl against a kubeconfig. Fails (does not skip) when kubectl is missing: CI
 * must install it.
 */
final class Kubectl {
  record Result(int exitCode, String output) {}

  private final Path kubeconfig;

  Kubectl(Path kubeconfig) {
    this.kubeconfig = kubeconfig;
  }

  static String binary() {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
      Path candidate = Path.of(dir, "kubectl");
      if (Files.isExecutable(candidate)) {
        return candidate.toString();
      }
    }
    throw new AssertionError(
        "kubectl is not on the PATH: these tests drive the real kubectl; install it "
            + "(e.g. the static binary from dl.k8s.io) before running the local and e2e modules");
  }

  Result run(String... args) throws IOException, InterruptedException {
    List<String> command =
        new ArrayList<>(List.of(binary(), "--kubeconfig", kubeconfig.toString()));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("kubectl " + String.join(" ", args) + " did not finish within 60 s");
    }
    return new Result(
        p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
  }

  /** Runs and asserts success; returns the output. */
  String ok(String... args) throws IOException, InterruptedException {
    Result r = run(args);
    assertThat(r.exitCode()).as("kubectl %s\n%s", String.join(" ", args), r.output()).isZero();
    return r.output();
  }
}
