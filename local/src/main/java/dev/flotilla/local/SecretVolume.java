package dev.flotilla.local;

import io.fabric8.kubernetes.api.model.Secret;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A Secret's keys as files in a directory, laid out and updated the way the kubelet does it for a
 * Secret volume: the files live in a timestamped directory, {@code ..data} links to it and each key
 * links into {@code ..data}. An update writes a new directory and swaps the {@code ..data} link in
 * one rename, so a reader sees the old set or the new one, never half of each (a certificate next
 * to the previous key).
 */
final class SecretVolume {
  private static final String DATA = "..data";

  private final Path dir;
  private Map<String, String> written;

  SecretVolume(Path dir) {
    this.dir = dir;
  }

  Path dir() {
    return dir;
  }

  /** Writes the Secret's data (base64 {@code data} and plain {@code stringData}) if it changed. */
  synchronized void write(Secret secret) throws IOException {
    Map<String, String> data = contents(secret);
    if (data.equals(written)) {
      return;
    }
    Files.createDirectories(dir);
    Path version = Files.createTempDirectory(dir, "..version-");
    for (Map.Entry<String, String> e : data.entrySet()) {
      Path file = version.resolve(e.getKey());
      Files.write(file, Base64.getDecoder().decode(e.getValue()));
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    }
    Path link = dir.resolve(DATA);
    Path old = Files.isSymbolicLink(link) ? dir.resolve(Files.readSymbolicLink(link)) : null;
    Path next = dir.resolve("..data_tmp");
    Files.deleteIfExists(next);
    Files.createSymbolicLink(next, version.getFileName());
    Files.move(next, link, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    for (String key : data.keySet()) {
      Path keyLink = dir.resolve(key);
      if (!Files.exists(keyLink, LinkOption.NOFOLLOW_LINKS)) {
        Files.createSymbolicLink(keyLink, Path.of(DATA, key));
      }
    }
    if (written != null) {
      for (String gone : written.keySet()) {
        if (!data.containsKey(gone)) {
          Files.deleteIfExists(dir.resolve(gone));
        }
      }
    }
    if (old != null && !Objects.equals(old, version)) {
      deleteTree(old);
    }
    written = data;
  }

  /** Whether a Secret's keys were ever written here. */
  synchronized boolean mounted() {
    return written != null;
  }

  private static Map<String, String> contents(Secret secret) {
    Map<String, String> data = new LinkedHashMap<>();
    if (secret.getData() != null) {
      data.putAll(secret.getData());
    }
    if (secret.getStringData() != null) {
      secret
          .getStringData()
          .forEach(
              (k, v) ->
                  data.put(
                      k, Base64.getEncoder().encodeToString(v.getBytes(StandardCharsets.UTF_8))));
    }
    return data;
  }

  static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    if (Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) {
      try (DirectoryStream<Path> children = Files.newDirectoryStream(root)) {
        for (Path child : children) {
          deleteTree(child);
        }
      }
    }
    Files.delete(root);
  }
}
