# nghttpx-gateway route table, read by router.rb and restore.rb. Generated; do not edit.
{
  :ports => {
    80 => {
      :tls => false,
      :listeners => [
        {
          :vhosts => [
            {
              :rules => [
                {
                  :name => "m/0",
                  :path => [:prefix, "/multi"],
                  :backends => [
                    {
                      :weight => 1,
                      :cluster => "svc-default-web-8080-8bd6e38c",
                      :req => [[:set, "x-header-set", "v"]],
                    },
                  ],
                  :mirror => [
                    ["svc-default-shadow-8080-5cd61543", 1, 1],
                    ["svc-default-shadow2-8080-3a2c25de", 25, 50],
                  ],
                },
                {
                  :name => "m/1",
                  :path => [:prefix, "/percent"],
                  :backends => [{:weight => 1, :cluster => "svc-default-web-8080-ff01c8b8"}],
                  :mirror => [["svc-default-shadow-8080-5cd61543", 20, 100]],
                },
                {
                  :name => "m/2",
                  :path => [:prefix, "/none"],
                  :backends => [{:weight => 1, :cluster => "svc-default-web-8080-ff01c8b8"}],
                },
              ],
            },
          ],
        },
      ],
    },
  },
  :buckets => 0,
  :shards => "",
  :resp => [],
}
