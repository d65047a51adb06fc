# nghttpx-gateway route table, read by router.rb and restore.rb. Generated; do not edit.
{
  :ports => {
    80 => {
      :tls => false,
      :listeners => [
        {
          :exact => true,
          :vhosts => [
            {
              :rules => [
                {:name => "healthz", :path => [:exact, "/healthz"], :status => 200, :body => "ok"},
                {
                  :name => "default",
                  :path => [:prefix, ""],
                  :status => 404,
                  :body => "default backend - 404 \x22\x23\x7bx\x7d\x22\x0a",
                },
              ],
            },
          ],
        },
      ],
    },
  },
  :buckets => 1,
  :shards => "b3824127dd7cc8c6.names",
  :resp => [],
}
# routes.d/cebdbd9841ae24d5.rb
# nghttpx-gateway route table shard, read by router.rb. Generated; do not edit.
{
  "www.example.com" => [
    [
      80,
      0,
      true,
      [
        {
          :name => "ip",
          :path => [:prefix, "/ip"],
          :backends => [{:weight => 1, :cluster => "svc-default-web-80-5439c95d"}],
        },
        {
          :name => "cookie",
          :path => [:prefix, "/cookie"],
          :backends => [{:weight => 1, :cluster => "svc-default-web-80-b5d740ec"}],
        },
        {
          :name => "cookie-defaults",
          :path => [:exact, "/cookie-defaults"],
          :backends => [{:weight => 1, :cluster => "svc-default-web-80-c9334a24"}],
        },
        {
          :name => "cookie-two-services",
          :path => [:prefix, "/two"],
          :backends => [
            {:weight => 4, :cluster => "affinity-svc-default-web-80-e1e6c6fe"},
            {:weight => 1, :status => 500},
          ],
        },
        {
          :name => "script",
          :path => [:prefix, "/script"],
          :backends => [{:weight => 1, :cluster => "svc-default-web-80-9ecb23b3"}],
        },
        {
          :name => "script-again",
          :path => [:prefix, "/again"],
          :backends => [{:weight => 1, :cluster => "svc-default-web-80-9ecb23b3"}],
        },
        {
          :name => "dnf",
          :path => [:prefix, "/dnf"],
          :backends => [{:weight => 1, :cluster => "do-not-forward-6bf5b462"}],
        },
        {
          :name => "backend-options",
          :path => [:prefix, "/grpc"],
          :backends => [
            {:weight => 3, :cluster => "svc-default-grpc-50051-aa1ee405"},
            {:weight => 1, :cluster => "svc-default-web-80-c4c34d20"},
          ],
        },
      ],
    ],
  ],
}
