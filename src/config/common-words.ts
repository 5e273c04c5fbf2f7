/**
 * @module config/common-words. Words people put in hand-made secrets: placeholders, words about
 * secrets and clusters, the most common passwords' stems and common short English words. Used by
 * config/secret.ts, where each one costs a single pick from this list instead of its letters.
 * Lower case, two letters or more; matched whatever their case.
 */

export const commonWords: readonly string[] = [
  // placeholders and words about secrets, clusters and environments
  "changeme", "change", "replace", "replaceme", "insert", "your", "here", "please", "todo", "fixme",
  "password", "passwd", "passphrase", "pass", "secret", "secrets", "secure", "secured", "security",
  "cluster", "scribe", "ledger", "raft", "node", "nodes", "peer", "shared", "token", "key", "hmac",
  "auth", "access", "private", "internal", "default", "example", "sample", "dummy", "demo", "test",
  "testing", "local", "localhost", "dev", "develop", "development", "prod", "production", "staging",
  "compose", "docker", "admin", "root", "user", "guest", "login", "letmein", "welcome", "hello",
  "world", "qwerty", "asdf", "zxcv", "foo", "bar", "baz", "abc", "xyz", "xxx", "random", "long",
  "string", "super", "strong", "master", "server", "service", "system", "monkey", "dragon",
  "iloveyou", "sunshine", "trustno", "football", "baseball", "princess", "mysecret", "s3cr3t",
  "p4ssw0rd", "passw0rd", "another", "other", "new", "old", "my", "our",
  // common short English words
  "is", "me", "to", "of", "in", "it", "on", "at", "be", "we", "an", "or", "as", "by", "do",
  "go", "he", "if", "no", "so", "up", "us", "the", "and", "for", "are", "but", "not", "you", "all",
  "any", "can", "had", "her", "was", "one", "out", "day", "get", "has", "him", "his", "how", "man",
  "now", "see", "two", "way", "who", "boy", "did", "its", "let", "put", "say", "she", "too", "use",
  "this", "that", "with", "have", "from", "they", "will", "would", "there", "their", "what",
  "about", "which", "when", "make", "like", "time", "just", "know", "take", "into", "year", "good",
  "some", "could", "them", "than", "then", "look", "only", "come", "over", "think", "also", "back",
  "after", "work", "first", "well", "even", "want", "because", "these", "give", "most", "very",
  "great", "little", "life", "love", "home", "house", "horse", "correct", "battery", "staple",
  "blue", "green", "red", "black", "white", "summer", "winter", "spring", "autumn", "happy",
  "money", "company", "computer", "internet", "apple", "orange", "banana", "cat", "dog", "fish",
  "bird", "sun", "moon", "star", "fire", "water", "earth", "light", "dark", "night", "morning",
  "magic", "power", "freedom", "open", "sesame", "three", "four", "five", "six",
  "seven", "eight", "nine", "ten",
];
