"""Source files with one 30-line function each, for code-action tests and the benchmark.

Each sample: (file name, language id, text, 0-based line inside the function). The
functions are plain, untyped and undocumented, so every built-in action has work to do.
"""

from __future__ import annotations

PYTHON = """import math


def summarize(values, trim=0.1):
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    cut = int(len(ordered) * trim)
    kept = ordered[cut:len(ordered) - cut] if cut else ordered
    total = 0.0
    for value in kept:
        total += value
    mean = total / len(kept)
    squares = 0.0
    for value in kept:
        squares += (value - mean) ** 2
    if len(kept) > 1:
        variance = squares / (len(kept) - 1)
    else:
        variance = 0.0
    deviation = math.sqrt(variance)
    middle = len(ordered) // 2
    if len(ordered) % 2 == 0:
        median = (ordered[middle - 1] + ordered[middle]) / 2
    else:
        median = ordered[middle]
    result = {}
    result["mean"] = mean
    result["median"] = median
    result["deviation"] = deviation
    result["count"] = len(values)
    result["trimmed"] = len(ordered) - len(kept)
    return result
"""

TYPESCRIPT = """import { readFileSync } from "fs";

export function parseScores(path, minimum) {
  const text = readFileSync(path, "utf8");
  const lines = text.split("\\n");
  const scores = new Map();
  let skipped = 0;
  let accepted = 0;
  for (const line of lines) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) {
      continue;
    }
    const parts = trimmed.split(",");
    if (parts.length !== 2) {
      skipped += 1;
      continue;
    }
    const name = parts[0].trim();
    const score = Number(parts[1]);
    if (Number.isNaN(score) || score < minimum) {
      skipped += 1;
      continue;
    }
    accepted += 1;
    const previous = scores.get(name);
    if (previous === undefined || score > previous) {
      scores.set(name, score);
    }
  }
  return { scores, skipped, accepted };
}
"""

GO = """package stats

import "strings"

func WordFrequencies(text string, stopWords []string, limit int) map[string]int {
	stop := make(map[string]bool)
	for _, word := range stopWords {
		stop[strings.ToLower(word)] = true
	}
	counts := make(map[string]int)
	total := 0
	for _, field := range strings.Fields(text) {
		word := strings.ToLower(strings.Trim(field, ".,;:!?\\"'()"))
		if word == "" {
			continue
		}
		if stop[word] {
			continue
		}
		counts[word]++
		total++
	}
	if limit <= 0 || len(counts) <= limit || total == 0 {
		return counts
	}
	result := make(map[string]int)
	for word, count := range counts {
		if len(result) >= limit {
			break
		}
		result[word] = count
	}
	return result
}
"""

SAMPLES = {
    "python": ("stats_utils.py", "python", PYTHON, 10),
    "typescript": ("scores.ts", "typescript", TYPESCRIPT, 10),
    "go": ("words.go", "go", GO, 10),
}
