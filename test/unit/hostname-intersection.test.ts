/** The Gateway API's intersection of a listener's hostname and a route's (HTTPRouteSpec.hostnames). */
import { describe, expect, it } from "vitest";
import { intersectHostnames } from "../../policies/attachment.ts";

describe("listener and route hostnames", () => {
  it.each([
    ["test.example.com", "test.example.com", "test.example.com"],
    ["test.example.com", "*.example.com", "test.example.com"],
    ["*.example.com", "test.example.com", "test.example.com"],
    ["*.example.com", "foo.test.example.com", "foo.test.example.com"],
    ["*.example.com", "*.example.com", "*.example.com"],
    ["*.example.com", "*.foo.example.com", "*.foo.example.com"],
    ["*.foo.example.com", "*.example.com", "*.foo.example.com"],
    ["*.example.com", "example.com", undefined],
    ["*.example.com", "test.example.net", undefined],
    ["test.example.com", "other.example.com", undefined],
    ["example.com", "*.example.com", undefined],
  ])("listener %s, route %s: %s", (listener, route, expected) => {
    expect(intersectHostnames(listener, route)).toBe(expected);
  });
});
