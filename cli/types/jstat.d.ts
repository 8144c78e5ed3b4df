// The one part of jstat (no types of its own on npm) that the soak's statistics use; a CommonJS module.
declare module 'jstat' {
  const jstat: {
    readonly jStat: {
      readonly studentt: {
        /** Quantile function of Student's t distribution with `dof` degrees of freedom. */
        inv(p: number, dof: number): number;
      };
    };
  };
  export default jstat;
}
