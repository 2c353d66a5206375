package dev.flotilla.gateway.bench;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;

/**
 * Reads one Prometheus timer's (or summary's) running total and count from a text exposition page,
 * so the benchmark can tell apart where a phase's time to first token went: in the worker (its own
 * arrival-to-token timer), in the gateway (arrival to the worker's first token), or on the way to
 * and from the client. Two reads give the mean over what happened between them.
 */
record TimerScrape(double sum, double count) {
  static final TimerScrape NONE = new TimerScrape(0, 0);

  /** The sum and count of {@code name} over all its label sets; NONE if the page is unreachable. */
  static TimerScrape read(String url, String name) {
    if (url == null || url.isEmpty()) {
      return NONE;
    }
    String page;
    try (InputStream in = URI.create(url).toURL().openStream()) {
      page = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException | IllegalArgumentException e) {
      return NONE;
    }
    double sum = 0;
    double count = 0;
    for (String line : page.split("\n")) {
      if (line.startsWith(name + "_sum")) {
        sum += value(line);
      } else if (line.startsWith(name + "_count")) {
        count += value(line);
      }
    }
    return new TimerScrape(sum, count);
  }

  private static double value(String line) {
    return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
  }

  /** The mean in milliseconds of what was recorded since {@code before}; NaN for nothing. */
  double meanMsSince(TimerScrape before) {
    return meanSince(before) * 1000;
  }

  /** The mean of what was recorded since {@code before}, in the page's unit; NaN for nothing. */
  double meanSince(TimerScrape before) {
    double n = count - before.count;
    return n <= 0 ? Double.NaN : (sum - before.sum) / n;
  }
}
