package dev.flotilla.worker.fetch;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;

/**
 * Where a model's or an adapter's files are: a directory the worker can read ({@code file://}, a
 * plain path, or {@code pvc://CLAIM/path} under the directory the claims are mounted in), a Hugging
 * Face Hub repository ({@code hf://org/repo[@revision]}) or an S3 prefix ({@code
 * s3://bucket/prefix}).
 */
public sealed interface Source {

  /** A directory on this machine. */
  record Local(Path dir) implements Source {}

  /** A Hub repository at a revision (a branch, a tag or a commit; {@code main} when unset). */
  record Hub(String repo, String revision) implements Source {
    @Override
    public String toString() {
      return "hf://" + repo + "@" + revision;
    }
  }

  /** Every object under {@code prefix} (no leading slash; empty for the whole bucket). */
  record S3(String bucket, String prefix) implements Source {
    @Override
    public String toString() {
      return "s3://" + bucket + "/" + prefix;
    }
  }

  /**
   * Parses {@code text}.
   *
   * @param pvcRoot where the operator mounts each claim, as {@code <pvcRoot>/<claim>}
   * @throws IllegalArgumentException with a message that quotes the source
   */
  static Source parse(String text, Path pvcRoot) {
    String s = text.trim();
    if (s.startsWith("file:")) {
      return new Local(filePath(s));
    }
    if (s.startsWith("pvc://")) {
      String rest = s.substring("pvc://".length());
      int slash = rest.indexOf('/');
      String claim = slash < 0 ? rest : rest.substring(0, slash);
      String path = slash < 0 ? "" : rest.substring(slash + 1);
      if (claim.isEmpty() || !claim.matches("[a-z0-9]([-a-z0-9.]*[a-z0-9])?")) {
        throw new IllegalArgumentException(
            "'" + text + "' does not name a claim: give pvc://CLAIM/path");
      }
      Path dir = pvcRoot.resolve(claim).resolve(path).normalize();
      if (!dir.startsWith(pvcRoot.resolve(claim))) {
        throw new IllegalArgumentException("'" + text + "' leaves its claim");
      }
      return new Local(dir);
    }
    if (s.startsWith("hf://")) {
      String rest = s.substring("hf://".length());
      int at = rest.indexOf('@');
      String repo = at < 0 ? rest : rest.substring(0, at);
      String revision = at < 0 ? "main" : rest.substring(at + 1);
      if (!repo.matches("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
          || repo.contains("..")) {
        throw new IllegalArgumentException(
            "'" + text + "' is not hf://ORG/REPO or hf://ORG/REPO@REVISION");
      }
      if (revision.isEmpty() || revision.contains("..")) {
        throw new IllegalArgumentException("'" + text + "' has an empty or invalid revision");
      }
      return new Hub(repo, revision);
    }
    if (s.startsWith("s3://")) {
      String rest = s.substring("s3://".length());
      int slash = rest.indexOf('/');
      String bucket = slash < 0 ? rest : rest.substring(0, slash);
      String prefix = slash < 0 ? "" : rest.substring(slash + 1);
      if (!bucket.matches("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")) {
        throw new IllegalArgumentException(
            "'" + text + "' does not name a valid bucket: give s3://BUCKET/prefix");
      }
      return new S3(bucket, prefix);
    }
    if (s.matches("^[a-zA-Z][a-zA-Z0-9+.-]*://.*")) {
      throw new IllegalArgumentException(
          "'"
              + text
              + "' uses a scheme the worker cannot read; give file://, pvc://, hf:// or s3://");
    }
    return new Local(Path.of(s).toAbsolutePath().normalize());
  }

  private static Path filePath(String s) {
    try {
      URI uri = new URI(s);
      if (uri.getPath() == null || uri.getPath().isEmpty()) {
        throw new IllegalArgumentException("'" + s + "' has no path");
      }
      return Path.of(uri.getPath()).toAbsolutePath().normalize();
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException(
          "'" + s + "' is not a valid file:// URI: " + e.getMessage(), e);
    }
  }
}
