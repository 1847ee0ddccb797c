/** The ratings service of the demo mesh: a Worker, which the gateway reaches over its RATINGS service binding. */

const RATINGS = { Reviewer1: 5, Reviewer2: 4 };

export default {
  fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return Response.json({ status: "ok" });
    const id = /^\/ratings\/(\d+)$/.exec(url.pathname)?.[1];
    if (request.method !== "GET" || id === undefined) return Response.json({ error: "not found" }, { status: 404 });
    return Response.json({ id: Number(id), ratings: RATINGS, servedBy: "ratings (Worker)" }, { headers: { "x-served-by": "ratings (Worker)" } });
  },
} satisfies ExportedHandler;
