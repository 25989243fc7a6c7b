namespace ActorNat.Core; public static class Placeholder {}
