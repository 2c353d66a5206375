package dev.flotilla.gateway.usage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * Fills a spool on a small file system until the disk itself refuses (ENOSPC), then checks what the
 * spool promises: the appends that returned are exactly what it reads back, in order, before and
 * after a reopen, with no torn bytes on disk; trimming frees room even while the disk is full; and
 * the spool takes records again afterwards. {@link UsageSpoolFullDiskTest} runs it on a 1 MiB tmpfs
 * in a mount namespace of its own. Prints {@code PASS ...} or {@code FAIL ...}; exits 0 or 1.
 */
public final class FullDiskProbe {
  private FullDiskProbe() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]).resolve("spool-0");
    List<byte[]> acked = new ArrayList<>();
    SplittableRandom random = new SplittableRandom(17);
    IOException firstFailure = null;
    int failures = 0;
    long seq = 0;
    UsageSpool spool = UsageSpool.open(dir, 64 << 10);
    while (failures < 20) {
      List<byte[]> batch = new ArrayList<>();
      int n = random.nextInt(1, 9);
      for (int i = 0; i < n; i++) {
        // After the first refusal, small records probe the last free bytes.
        int size = firstFailure == null ? random.nextInt(100, 3000) : random.nextInt(1, 200);
        byte[] record = new byte[size];
        Arrays.fill(record, (byte) ('a' + seq++ % 26));
        batch.add(record);
      }
      try {
        spool.appendAll(batch);
        acked.addAll(batch);
      } catch (IOException e) {
        failures++;
        if (firstFailure == null) {
          firstFailure = e;
        }
      }
    }
    check(firstFailure != null, "the disk never filled");
    check(
        !(firstFailure instanceof UsageSpool.SpoolFullException)
            && String.valueOf(firstFailure.getMessage()).contains("No space left"),
        "the first failure is not the disk's ENOSPC: " + firstFailure);
    long ackedBytes = acked.stream().mapToLong(r -> UsageSpool.HEADER_BYTES + r.length).sum();
    check(
        spool.bytes() == ackedBytes, "spool says " + spool.bytes() + " bytes, acked " + ackedBytes);
    check(segmentBytesOnDisk(dir) == ackedBytes, "segment files hold " + segmentBytesOnDisk(dir));
    checkReads(spool, acked, "before reopen");
    spool.close();

    spool = UsageSpool.open(dir, 64 << 10);
    check(
        spool.truncatedBytesOnOpen() == 0, "torn bytes on reopen: " + spool.truncatedBytesOnOpen());
    checkReads(spool, acked, "after reopen");
    spool.commit(spool.nextOffset()); // on a disk that is still full
    check(segmentBytesOnDisk(dir) < ackedBytes / 2, "trimming freed nothing");
    long next = spool.append(new byte[] {'z'});
    check(next == acked.size(), "the next record got offset " + next);
    spool.close();
    spool = UsageSpool.open(dir, 64 << 10);
    List<UsageSpool.Entry> after = spool.read(0, 10);
    check(
        after.size() == 1 && after.get(0).offset() == acked.size(),
        "after trimming the spool reads " + after.size() + " records");
    spool.close();
    System.out.println(
        "PASS acknowledged="
            + acked.size()
            + " bytes="
            + ackedBytes
            + " refusals="
            + failures
            + " first="
            + firstFailure.getMessage());
  }

  private static void checkReads(UsageSpool spool, List<byte[]> acked, String when)
      throws IOException {
    List<UsageSpool.Entry> read = spool.read(0, acked.size() + 10);
    check(read.size() == acked.size(), when + ": read " + read.size() + " of " + acked.size());
    for (int i = 0; i < acked.size(); i++) {
      check(read.get(i).offset() == i, when + ": offset " + read.get(i).offset() + " at " + i);
      check(
          Arrays.equals(read.get(i).payload(), acked.get(i)), when + ": record " + i + " differs");
    }
  }

  private static long segmentBytesOnDisk(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      long total = 0;
      for (Path p : files.filter(p -> p.getFileName().toString().startsWith("segment-")).toList()) {
        total += Files.size(p);
      }
      return total;
    }
  }

  private static void check(boolean ok, String failure) {
    if (!ok) {
      System.out.println("FAIL " + failure);
      System.exit(1);
    }
  }
}
