/**
 * How the mesh names an object across namespaces, in metrics labels, the registry, the admin API and
 * logs: its name in namespace "default", "<namespace>/<name>" elsewhere.
 */
export const qualifiedName = (namespace: string, name: string) => (namespace === "default" ? name : `${namespace}/${name}`);
